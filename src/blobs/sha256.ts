import { hash } from 'node:crypto'

/**
 * SHA-256, synchronously: Node's native hash (SHA-NI). The browser build takes sha256.browser.ts.
 * One-shot hash() rather than createHash(): that makes a native Hash object per call, one per
 * 256 KiB block verified, each left for the garbage collector to finalize.
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer')
}
