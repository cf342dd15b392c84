import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'

/**
 * SHA-256 in the browser. Synchronous, like Node's: WebCrypto's digest is async only, and block
 * verification sits in synchronous code shared with the node (content-id.ts).
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes)
}
