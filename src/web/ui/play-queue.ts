export type RepeatMode = 'off' | 'all' | 'one'

/**
 * What plays next: the list a track was started from, in order or shuffled, with repeat off,
 * all or one. Pure logic (no DOM), so it is tested on its own.
 */
export class PlayQueue<T extends { id: string }> {
  #items: T[] = []
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
    return index === undefined ? undefined : this.#items[index]
  }

  get length(): number {
    return this.#items.length
  }

  /** Plays `items`, starting at the one with `startId` (the first when absent). */
  start(items: T[], startId: string): T | undefined {
    this.#items = items
    const start = Math.max(
      0,
      items.findIndex((item) => item.id === startId),
    )
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
      this.#order = this.#items.map((_, i) => i)
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
    const all = this.#items.map((_, i) => i)
    if (!this.#shuffle) return all
    const rest = all.filter((i) => i !== first)
    for (let i = rest.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1))
      ;[rest[i], rest[j]] = [rest[j]!, rest[i]!]
    }
    return first === undefined ? rest : [first, ...rest]
  }
}
