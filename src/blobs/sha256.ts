import * as crypto from 'node:crypto'

/**
 * SHA-256, synchronously: Node's native hash (SHA-NI). The browser build takes sha256.browser.ts.
 * One-shot crypto.hash() where Node has it (22.x does): createHash() makes a native Hash object per
 * call, and every 256 KiB block verified leaving one for the garbage collector to finalize.
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer })
  .hash

export function sha256(bytes: Uint8Array): Uint8Array {
  if (oneShot !== undefined) return oneShot('sha256', bytes, 'buffer')
  return crypto.createHash('sha256').update(bytes).digest()
}
