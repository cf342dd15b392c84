import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { idbGet, idbPutIfAbsent } from './idb.ts'

const KEY = 'identity'

/**
 * This browser's device identity: an Ed25519 key made once and kept in IndexedDB, as a Node
 * device keeps identity.key. Two tabs opening at once agree on one key (put-if-absent).
 */
export async function loadOrCreateIdentity(): Promise<PrivateKey> {
  const stored = await idbGet<Uint8Array>('keys', KEY)
  if (stored !== undefined) return privateKeyFromProtobuf(stored)
  const fresh = privateKeyToProtobuf(await generateKeyPair('Ed25519'))
  return privateKeyFromProtobuf(await idbPutIfAbsent('keys', KEY, fresh))
}
