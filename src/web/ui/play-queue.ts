export type RepeatMode = 'off' | 'all' | 'one'

/**
 * A list read by index: an array, or a list whose items are made when asked for (the library's
 * 100k tracks are decoded only as they are shown or played).
 */
export interface Sequence<T> {
  readonly length: number
  at(index: number): T | undefined
}

/**
 * What plays next: the list a track was started from, in order or shuffled, with repeat off,
 * all or one. Pure logic (no DOM), so it is tested on its own.
 */
export class PlayQueue<T extends { id: string }> {
  #items: Sequence<T> = []
  /** Indexes into #items in play order. */
  #order: number[] = []
  #position = -1
  #shuffle = false
  repeat: RepeatMode = 'off'
  readonly #random: () => number

  constructor(random: () => number = Math.random) {
    this.#random = random
  }

  get shuffle(): boolean {
    return this.#shuffle
  }

  get current(): T | undefined {
    const index = this.#order[this.#position]
    return index === undefined ? undefined : this.#items.at(index)
  }

  get length(): number {
    return this.#items.length
  }

  /**
   * Plays `items`, starting at the one with `startId` (the first when absent). `at`, when given,
   * is where the caller knows that item to be (no search through a long list).
   */
  start(items: Sequence<T>, startId: string, at?: number): T | undefined {
    this.#items = items
    const start = at !== undefined && items.at(at)?.id === startId ? at : Math.max(0, indexOf(items, startId))
    this.#order = this.#makeOrder(start)
    this.#position = this.#shuffle ? 0 : start
    return this.current
  }

  /** The next item when the current one ended or the user skipped; undefined at the end. */
  next(ended = false): T | undefined {
    if (this.#items.length === 0) return undefined
    if (ended && this.repeat === 'one') return this.current
    if (this.#position + 1 < this.#order.length) {
      this.#position++
      return this.current
    }
    if (this.repeat === 'off') return undefined
    // Round again; a shuffled queue is shuffled anew.
    this.#order = this.#shuffle ? this.#makeOrder(undefined) : this.#order
    this.#position = 0
    return this.current
  }

  previous(): T | undefined {
    if (this.#position <= 0) return this.repeat === 'all' ? this.#last() : undefined
    this.#position--
    return this.current
  }

  /** Turns shuffle on or off; the current item keeps playing and comes first. */
  setShuffle(on: boolean): void {
    this.#shuffle = on
    const current = this.#order[this.#position]
    if (current === undefined) return
    if (on) {
      this.#order = this.#makeOrder(current)
      this.#position = 0
    } else {
      this.#order = Array.from({ length: this.#items.length }, (_, i) => i)
      this.#position = current
    }
  }

  cycleRepeat(): RepeatMode {
    this.repeat = this.repeat === 'off' ? 'all' : this.repeat === 'all' ? 'one' : 'off'
    return this.repeat
  }

  #last(): T | undefined {
    this.#position = this.#order.length - 1
    return this.current
  }

  /** Play order: the list's order, or shuffled with `first` leading. */
  #makeOrder(first: number | undefined): number[] {
    const all = Array.from({ length: this.#items.length }, (_, i) => i)
    if (!this.#shuffle) return all
    const rest = all.filter((i) => i !== first)
    for (let i = rest.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1))
      ;[rest[i], rest[j]] = [rest[j]!, rest[i]!]
    }
    return first === undefined ? rest : [first, ...rest]
  }
}

function indexOf<T extends { id: string }>(items: Sequence<T>, id: string): number {
  for (let i = 0; i < items.length; i++) if (items.at(i)?.id === id) return i
  return -1
}
