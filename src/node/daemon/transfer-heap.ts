import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { collectGarbageNow } from './collect-garbage.ts'

/**
 * The heap's growth, at rest and while blocks stream through the node (served or fetched).
 *
 * At rest a node holds its catalog (~90 MB of heap for 100k tracks) for days: V8's heap may grow to
 * REST_GROWING_PERCENT above the live heap before the next full collection (V8 alone would allow up
 * to 4x on a machine with memory to spare; --optimize-for-size capped it at 2x, this keeps that cap
 * now that the node runs without that flag, see bin/cloudless.js).
 *
 * A transfer allocates a buffer per socket read, per noise message and per block; whatever is in
 * flight when a young collection runs is promoted, and a tight old-generation limit then starts a
 * full collection every ~100 ms (measured with --trace-gc while mirroring 1 GiB: 122 mark-compacts
 * on the receiver, ~24 CPU-s for both nodes together, 80 MB/s). Letting the heap grow between full
 * collections while a transfer runs: 8 mark-compacts, 7.4 CPU-s, 230 MB/s.
 *
 * So while any blob stream is open, V8's heap growing factor is raised (`--heap-growing-percent`,
 * which V8 reads each time it sets the next limit, so it takes effect at run time), and when the
 * last stream has been closed for RESTORE_AFTER_MS it goes back to the rest value and the node
 * collects once (a regular full collection: collect-garbage.ts). The factor gives about
 * TRANSFER_HEADROOM_BYTES above the live heap, not a multiple of it: a node holding a 100k-track
 * catalog that plays music all day must not be let to grow to 400 MB. The peak RSS of a transfer is
 * in bench:blobs.
 */
export const REST_GROWING_PERCENT = 100
export const TRANSFER_HEADROOM_BYTES = 96 * 1024 * 1024
/** Bounds of the growing percent (300: the heap may reach 4x its live size; 25: 1.25x). */
export const MAX_GROWING_PERCENT = 300
export const MIN_GROWING_PERCENT = 25

/** The growing percent that gives about TRANSFER_HEADROOM_BYTES above a live heap of `usedBytes`. */
export function growingPercentFor(usedBytes: number): number {
  const percent = Math.round((TRANSFER_HEADROOM_BYTES / Math.max(1, usedBytes)) * 100)
  return Math.min(MAX_GROWING_PERCENT, Math.max(MIN_GROWING_PERCENT, percent))
}
/** A pause between a player's range requests or a mirror's sessions should not flip the mode. */
export const RESTORE_AFTER_MS = 2_000

export interface TransferHeapHooks {
  /** Bytes of the heap in use now. */
  usedHeap(): number
  setGrowingPercent(percent: number): void
  /** A full collection, when the process has one (--expose-gc). */
  collect(): void
}

const v8Hooks: TransferHeapHooks = {
  usedHeap: () => getHeapStatistics().used_heap_size,
  setGrowingPercent: (percent) => setFlagsFromString(`--heap-growing-percent=${percent}`),
  collect: () => collectGarbageNow('regular'),
}

export class TransferHeap {
  readonly #hooks: TransferHeapHooks
  #open = 0
  #raised = false
  #restoreTimer: NodeJS.Timeout | undefined

  constructor(hooks: TransferHeapHooks = v8Hooks) {
    this.#hooks = hooks
  }

  /** Streams counted now. */
  get open(): number {
    return this.#open
  }

  /** Whether the heap may grow for transfers now. */
  get raised(): boolean {
    return this.#raised
  }

  /** Counts a transfer that has begun; call the returned function (once; more calls do nothing) when it ends. */
  begin(): () => void {
    this.#open++
    clearTimeout(this.#restoreTimer)
    this.#restoreTimer = undefined
    if (!this.#raised) {
      this.#raised = true
      // Never below the rest value: a large live heap would otherwise get less room while transferring.
      this.#hooks.setGrowingPercent(Math.max(REST_GROWING_PERCENT, growingPercentFor(this.#hooks.usedHeap())))
    }
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#open--
      if (this.#open === 0) this.#scheduleRestore()
    }
  }

  /** Sets the rest value; the node calls this once at start (not while transfers keep it raised). */
  atRest(): void {
    if (!this.#raised) this.#hooks.setGrowingPercent(REST_GROWING_PERCENT)
  }

  /** Back to the rest value. */
  #restore(): void {
    clearTimeout(this.#restoreTimer)
    this.#restoreTimer = undefined
    if (!this.#raised) return
    this.#raised = false
    this.#hooks.setGrowingPercent(REST_GROWING_PERCENT)
  }

  #scheduleRestore(): void {
    this.#restoreTimer = setTimeout(() => {
      this.#restoreTimer = undefined
      if (this.#open > 0 || !this.#raised) return
      this.#restore()
      this.#hooks.collect()
    }, RESTORE_AFTER_MS)
    this.#restoreTimer.unref()
  }
}

/** One per process: V8's flags are the process's. */
export const transferHeap = new TransferHeap()
