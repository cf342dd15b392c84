import { createHash } from 'node:crypto'

/** SHA-256, synchronously: Node's native hash (SHA-NI). The browser build takes sha256.browser.ts. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}
