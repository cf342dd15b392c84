/**
 * After a pairing, a node holds tens of MB of garbage: the catalog it sent or received, as buffers.
 * A node's heap is small and quiet afterwards, so V8 may leave them for a long time (measured after
 * serving one 100k-track join: 233 MB RSS with 43 MB of dead buffers, 165 MB once collected). The
 * node runs with --expose-gc (bin/cloudless.js) so that it can collect once, here; a full collection
 * of its ~70 MB heap takes tens of milliseconds. Without the flag (CLOUDLESS_V8_DEFAULTS, tests
 * running the node in process) this does nothing.
 */
export function collectGarbageSoon(delayMs = 1_000): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (typeof gc !== 'function') return
  // Later, not now: the buffers are still referenced by the code that is finishing the pairing.
  setTimeout(() => gc(), delayMs).unref()
}
