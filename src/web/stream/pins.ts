import { idbDelete, idbEntries, idbPut } from '../peer/idb.ts'
import type { BlockSource } from './block-source.ts'

export interface PinRecord {
  pinnedAt: number
  /** The track's content when it was pinned: its blocks are never evicted. */
  contentId?: string
  /** Every block is in this browser. */
  complete: boolean
}

export type PinState = 'none' | 'fetching' | 'kept'

/**
 * Tracks kept offline in this browser: each pinned track's blocks are fetched into IndexedDB
 * (verified, like every block), and the pin is marked complete when all are there. Pins are this
 * browser's own business, so they live in IndexedDB, not in the catalog. Dispatches 'change'.
 */
export interface PinProgress {
  kept: number
  pending: number
  current?: { done: number; total: number }
}

export class Pins extends EventTarget {
  readonly #source: BlockSource
  readonly #contentOf: (trackId: string) => string | undefined
  readonly #pins = new Map<string, PinRecord>()
  readonly #protected = new Set<string>()
  readonly #fetching = new Set<string>()
  /** The track being fetched now: blocks done of total. */
  #current: { trackId: string; done: number; total: number } | undefined
  #queue: Promise<void> = Promise.resolve()

  private constructor(source: BlockSource, contentOf: (trackId: string) => string | undefined) {
    super()
    this.#source = source
    this.#contentOf = contentOf
  }

  static async open(source: BlockSource, contentOf: (trackId: string) => string | undefined): Promise<Pins> {
    const pins = new Pins(source, contentOf)
    for (const [trackId, record] of await idbEntries<PinRecord>('pins')) pins.#set(trackId, record)
    // Pins whose fetch was cut short (the page closed) go on.
    const unfinished = [...pins.#pins].filter(([, r]) => !r.complete).map(([id]) => id)
    if (unfinished.length > 0) pins.#fetch(unfinished)
    return pins
  }

  /** Whether a blob belongs to a pinned track (the block store keeps it). */
  protects(contentId: string): boolean {
    return this.#protected.has(contentId)
  }

  #set(trackId: string, record: PinRecord): void {
    this.#pins.set(trackId, record)
    if (record.contentId !== undefined) this.#protected.add(record.contentId)
  }

  state(trackId: string): PinState {
    if (this.#fetching.has(trackId)) return 'fetching'
    const record = this.#pins.get(trackId)
    if (record === undefined) return 'none'
    return record.complete ? 'kept' : 'fetching'
  }

  async pin(trackIds: string[]): Promise<void> {
    // Ask the browser not to evict our storage under pressure (it may say no).
    void navigator.storage?.persist?.().catch(() => false)
    const fresh = trackIds.filter((id) => !this.#pins.has(id))
    for (const id of fresh) {
      const contentId = this.#contentOf(id)
      const record = {
        pinnedAt: Date.now(),
        complete: false,
        ...(contentId === undefined ? {} : { contentId }),
      }
      this.#set(id, record)
      await idbPut('pins', id, record)
    }
    this.#changed()
    await this.#fetch(fresh)
  }

  async unpin(trackIds: string[]): Promise<void> {
    for (const id of trackIds) {
      const contentId = this.#pins.get(id)?.contentId
      this.#pins.delete(id)
      if (contentId !== undefined && ![...this.#pins.values()].some((r) => r.contentId === contentId)) {
        this.#protected.delete(contentId)
      }
      await idbDelete('pins', id)
    }
    this.#changed()
  }

  /** Fetches pinned tracks one after another (not all at once: playback comes first). */
  #fetch(trackIds: string[]): Promise<void> {
    for (const id of trackIds) this.#fetching.add(id)
    const run = this.#queue.then(async () => {
      for (const id of trackIds) {
        try {
          if (!this.#pins.has(id)) continue
          await this.#source.fetchAll(id, (done, total) => {
            this.#current = { trackId: id, done, total }
            this.dispatchEvent(new Event('progress'))
          })
          const record = { ...this.#pins.get(id)!, complete: true }
          if (!this.#pins.has(id)) continue
          this.#set(id, record)
          await idbPut('pins', id, record)
        } catch {
          // No device holds it right now: it stays incomplete and is tried at the next start.
        } finally {
          this.#fetching.delete(id)
          this.#current = undefined
          this.#changed()
        }
      }
    })
    this.#queue = run
    return run
  }

  /**
   * How far keeping things offline has got: tracks kept, tracks still to fetch, and the blocks of
   * the one being fetched. 'change' fires when a track is done, 'progress' after every block.
   */
  progress(): PinProgress {
    let kept = 0
    for (const record of this.#pins.values()) if (record.complete) kept++
    return {
      kept,
      pending: this.#fetching.size,
      ...(this.#current === undefined
        ? {}
        : { current: { done: this.#current.done, total: this.#current.total } }),
    }
  }

  #changed(): void {
    this.dispatchEvent(new Event('change'))
  }
}
