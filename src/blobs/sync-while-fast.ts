/** Where a file operation runs: `sync()` now, or the promise of `async()`. */
export interface IoPolicy {
  run<T>(sync: () => T, async: () => Promise<T>): T | Promise<T>
}

/** Always libuv's thread pool (files on a network file system, say). */
export const THREAD_POOL: IoPolicy = { run: (_sync, async) => async() }

/**
 * Whether a file operation runs right here, synchronously, or in libuv's thread pool.
 *
 * An asynchronous fs call hands the work to a thread-pool thread and its result back to the event
 * loop: two thread wake-ups, and on a machine whose cores are busy (a mirror keeps both processes of
 * a 2-core machine busy) each wake-up is a context switch. Measured on the benchmark machine, opening,
 * fstat-ing, reading and closing a 127 KB file that is in the page cache: 100 µs of CPU through the
 * thread pool, 37 µs synchronously; a mirror of 10k tracks does that (or open, write, close) for
 * every file on both devices.
 *
 * Synchronous calls stall the event loop, though, for as long as the disk takes: fine for the page
 * cache (tens of µs), not for a cold disk (milliseconds a seek), where the thread pool also lets
 * several requests reach the disk at once. So operations run synchronously while they are fast: when
 * the moving average of their durations passes `slowMs` (or a single call takes `stallMs`), every
 * operation of this policy goes to the thread pool for `backOffMs`, after which they are tried
 * synchronously again. An average, since a single call is sometimes slow for reasons of its own: on
 * a busy machine the thread is descheduled, or collects garbage, in the middle of it (seen: 4 ms
 * outliers among 30 µs reads).
 */
export class SyncWhileFast implements IoPolicy {
  readonly slowMs: number
  readonly stallMs: number
  readonly backOffMs: number
  readonly #now: () => number
  #asyncUntil = Number.NEGATIVE_INFINITY
  /** Moving average of the synchronous calls' durations, in ms. */
  #averageMs = 0
  #backOffs = 0

  constructor(options: { slowMs?: number; stallMs?: number; backOffMs?: number; now?: () => number } = {}) {
    this.slowMs = options.slowMs ?? DEFAULT_SLOW_MS
    this.stallMs = options.stallMs ?? DEFAULT_STALL_MS
    this.backOffMs = options.backOffMs ?? DEFAULT_BACK_OFF_MS
    this.#now = options.now ?? (() => performance.now())
  }

  /** Whether the next operation runs synchronously. */
  get synchronous(): boolean {
    return this.#now() >= this.#asyncUntil
  }

  /** How many times operations were sent to the thread pool for being slow. */
  get backOffs(): number {
    return this.#backOffs
  }

  /**
   * `sync()` now when operations are fast, timed, and its result (or its error, thrown); otherwise
   * the promise of `async()`. Callers that await it get the same either way.
   */
  run<T>(sync: () => T, async: () => Promise<T>): T | Promise<T> {
    if (!this.synchronous) return async()
    const start = this.#now()
    try {
      return sync()
    } finally {
      const end = this.#now()
      const took = end - start
      this.#averageMs += (took - this.#averageMs) * AVERAGE_WEIGHT
      if (this.#averageMs > this.slowMs || took > this.stallMs) {
        this.#backOffs++
        this.#asyncUntil = end + this.backOffMs
        this.#averageMs = 0
      }
    }
  }
}

/** Slower than this on average, calls wait for the disk (a page-cache read of 256 KiB takes ~30 µs). */
export const DEFAULT_SLOW_MS = 2
/** A single call this slow is enough. */
export const DEFAULT_STALL_MS = 50
/** The weight of the latest call in the average: a run of 5 calls of 5 ms (a disk's seeks) passes 2 ms. */
const AVERAGE_WEIGHT = 0.1
export const DEFAULT_BACK_OFF_MS = 5_000
