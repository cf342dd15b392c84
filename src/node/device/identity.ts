import { promises as fs } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { writeFileAtomic } from '../../blobs/index.ts'

export class IdentityFileError extends Error {
  override name = 'IdentityFileError'
}

/**
 * The device's Ed25519 key: its libp2p identity and, as its peer id, its device id in the catalog.
 * Created once, kept on disk readable only by its owner.
 */
export async function loadOrCreateIdentity(
  file: string,
): Promise<{ privateKey: PrivateKey; deviceId: string }> {
  let privateKey: PrivateKey
  try {
    const bytes = await fs.readFile(file)
    try {
      privateKey = privateKeyFromProtobuf(bytes)
    } catch (error) {
      throw new IdentityFileError(
        `the device key ${file} is damaged (${(error as Error).message}); restore it from a backup, or remove it to make this a new device`,
      )
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    privateKey = await generateKeyPair('Ed25519')
    await writeFileAtomic(file, privateKeyToProtobuf(privateKey), { mode: 0o600 })
  }
  return { privateKey, deviceId: peerIdFromPrivateKey(privateKey).toString() }
}
