/**
 * Giving memory back after a burst of work. A node holds tens of MB of garbage after a pairing (the
 * catalog it sent or received, as buffers), after loading its catalog at start, and after a
 * transfer; its heap is quiet afterwards, so V8 may leave them for a long time (measured after
 * serving one 100k-track join: 233 MB RSS with 43 MB of dead buffers, 165 MB once collected).
 *
 * A plain full collection frees the objects but V8 keeps the pages, a grown young generation and
 * glibc's heap as they were; the "last resort" flavor (what V8 does on a low-memory notification)
 * also shrinks the young generation and returns pooled pages to the OS (measured on a test heap of
 * 200 MB of dead objects: RSS 249 -> 196 MB after gc(), 59 MB after the last-resort one).
 *
 * The node runs with --expose-gc (bin/cloudless.js); without it (CLOUDLESS_V8_DEFAULTS, tests running
 * the node in process) this does nothing. On a test heap of 175 MB of small objects a last-resort
 * collection took 5-25 ms, a regular one 2-8 ms: for the ends of bursts only, never per request;
 * the end of a transfer uses a regular one (a player's next request may come right then).
 */
type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void

/**
 * A full collection now: 'last-resort' (the default) also gives pages back; 'regular' only frees
 * the objects and is shorter, for the end of a transfer, which may fall between two plays.
 */
export function collectGarbageNow(flavor: 'last-resort' | 'regular' = 'last-resort'): void {
  const gc = (globalThis as { gc?: GcFunction }).gc
  if (typeof gc !== 'function') return
  try {
    gc({ type: 'major', execution: 'sync', flavor })
  } catch {
    gc() // a V8 without the options
  }
}

export function collectGarbageSoon(delayMs = 1_000): void {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') return
  // Later, not now: the buffers are still referenced by the code that is finishing the work.
  setTimeout(() => collectGarbageNow(), delayMs).unref()
}
