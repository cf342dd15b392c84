// @peculiar/x509 needs the Reflect metadata polyfill loaded first (libp2p's own transport does the same).
import 'reflect-metadata'
import { createHash, webcrypto } from 'node:crypto'
import { promises as fs } from 'node:fs'
import type { TransportCertificate } from '@libp2p/webrtc'
import { BasicConstraintsExtension, X509Certificate, X509CertificateGenerator } from '@peculiar/x509'
import { writeFileAtomic } from '../../blobs/index.ts'

/**
 * The WebRTC-Direct listener's TLS certificate, kept in the device's home dir so that its hash
 * (the `/certhash/...` part of our webrtc-direct address) stays the same across restarts: browsers
 * and other devices dial the addresses they remember, and a new certhash would make every one of
 * them stale (ARCHITECTURE.md, "js-libp2p 3 facts that bite").
 *
 * libp2p can do this itself with a datastore and a keychain; we keep one small JSON file instead,
 * next to identity.key, rather than a second database whose only content would be this key.
 *
 * WebRTC checks the certificate only against the certhash (DTLS fingerprint), not its dates, so
 * it lives a year and is renewed at a start when less than a month is left.
 */

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
export const CERTIFICATE_LIFESPAN_MS = 365 * 24 * 3600 * 1000
export const CERTIFICATE_RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000

export class CertificateFileError extends Error {
  override name = 'CertificateFileError'
}

interface StoredCertificate {
  privateKey: string
  pem: string
}

export interface LoadCertificateOptions {
  now?: number
  lifespanMs?: number
  renewBeforeMs?: number
}

/** The certificate stored in `file`, or a new one (stored there) when none is usable. */
export async function loadOrCreateWebRTCCertificate(
  file: string,
  options: LoadCertificateOptions = {},
): Promise<TransportCertificate> {
  const now = options.now ?? Date.now()
  const stored = await readStored(file)
  if (stored !== undefined) {
    const cert = new X509Certificate(stored.pem)
    const renewAt = cert.notAfter.getTime() - (options.renewBeforeMs ?? CERTIFICATE_RENEW_BEFORE_MS)
    if (now < renewAt) return { ...stored, certhash: certhashOf(cert) }
  }
  const fresh = await createCertificate(now, options.lifespanMs ?? CERTIFICATE_LIFESPAN_MS)
  await writeFileAtomic(file, `${JSON.stringify(fresh)}\n`, { mode: 0o600 })
  return { ...fresh, certhash: certhashOf(new X509Certificate(fresh.pem)) }
}

async function readStored(file: string): Promise<StoredCertificate | undefined> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredCertificate>
    if (typeof parsed.privateKey !== 'string' || typeof parsed.pem !== 'string')
      throw new Error('fields missing')
    new X509Certificate(parsed.pem)
    return { privateKey: parsed.privateKey, pem: parsed.pem }
  } catch {
    // A damaged file costs only a new certhash; the devices learn it from our device record.
    return undefined
  }
}

async function createCertificate(now: number, lifespanMs: number): Promise<StoredCertificate> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair
  // Whole seconds: X.509 times have no milliseconds, and a mismatch breaks the dates check.
  const notBefore = new Date(Math.floor(now / 1000) * 1000)
  const notAfter = new Date(Math.floor((now + lifespanMs) / 1000) * 1000)
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
      name: 'CN=cloudless',
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [new BasicConstraintsExtension(false, undefined, true)],
    },
    webcrypto as unknown as Parameters<typeof X509CertificateGenerator.createSelfSigned>[1],
  )
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  const lines = pkcs8.toString('base64').match(/.{1,64}/g) ?? []
  const privateKey = ['-----BEGIN PRIVATE KEY-----', ...lines, '-----END PRIVATE KEY-----'].join('\n')
  return { privateKey, pem: cert.toString('pem') }
}

/** Multibase base64url of the sha2-256 multihash of the DER certificate, as libp2p writes it. */
export function certhashOf(cert: X509Certificate): string {
  const digest = createHash('sha256').update(new Uint8Array(cert.rawData)).digest()
  return `u${Buffer.concat([Buffer.from([0x12, 0x20]), digest]).toString('base64url')}`
}
