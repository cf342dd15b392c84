/**
 * FIFO of encoded frames with a byte count. Array.shift() is O(n); a scan that commits one
 * transaction per track can queue 100k small updates for a slow peer, so pop from a head index.
 */
export class FrameQueue {
  #items: Uint8Array[] = []
  #head = 0
  #bytes = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  get bytes(): number {
    return this.#bytes
  }

  push(frame: Uint8Array): void {
    this.#items.push(frame)
    this.#bytes += frame.length
  }

  shift(): Uint8Array | undefined {
    if (this.#head >= this.#items.length) return undefined
    const frame = this.#items[this.#head]!
    this.#items[this.#head] = EMPTY // let the frame be collected
    this.#head++
    this.#bytes -= frame.length
    if (this.#head === this.#items.length) this.clear()
    else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return frame
  }

  clear(): void {
    this.#items = []
    this.#head = 0
    this.#bytes = 0
  }
}

const EMPTY = new Uint8Array(0)
