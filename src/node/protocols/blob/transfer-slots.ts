/**
 * Counts the streams being served, per peer and in total, so the server can answer `busy` beyond
 * its limits instead of queueing work without bound.
 */
export class TransferSlots {
  readonly maxPerPeer: number
  readonly maxTotal: number
  readonly #perPeer = new Map<string, number>()
  #total = 0

  constructor(maxPerPeer: number, maxTotal: number) {
    if (!Number.isInteger(maxPerPeer) || maxPerPeer < 1)
      throw new RangeError('maxConcurrentPerPeer must be ≥ 1')
    if (!Number.isInteger(maxTotal) || maxTotal < 1) throw new RangeError('maxConcurrentTotal must be ≥ 1')
    this.maxPerPeer = maxPerPeer
    this.maxTotal = maxTotal
  }

  /** Streams being served now. */
  get active(): number {
    return this.#total
  }

  activeFor(peer: string): number {
    return this.#perPeer.get(peer) ?? 0
  }

  /** Takes a slot for `peer` and returns the function that gives it back, or undefined when full. */
  tryAcquire(peer: string): (() => void) | undefined {
    const held = this.activeFor(peer)
    if (held >= this.maxPerPeer || this.#total >= this.maxTotal) return undefined
    this.#perPeer.set(peer, held + 1)
    this.#total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#total--
      const left = this.activeFor(peer) - 1
      if (left > 0) this.#perPeer.set(peer, left)
      else this.#perPeer.delete(peer)
    }
  }
}
