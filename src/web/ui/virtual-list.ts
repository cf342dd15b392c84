import { h } from './dom.ts'
import type { Sequence } from './play-queue.ts'

/** The first rows on screen (those of first-screen.ts, when it has any): bench:web's "first screen". */
export const FIRST_ROWS_MARK = 'cloudless:first-rows'
/** The first rows of the live library. */
export const LIBRARY_READY_MARK = 'cloudless:library-ready'

export interface VirtualListOptions<T> {
  rowHeight: number
  render(item: T, index: number): HTMLElement
  /** Rows drawn beyond the visible ones, above and below. */
  overscan?: number
  testId?: string
}

/**
 * A list that creates elements only for the rows in view, so 100k tracks scroll as smoothly as
 * ten: a sized spacer gives the scrollbar its length, rows are absolutely positioned.
 */
export class VirtualList<T> {
  readonly element: HTMLElement
  readonly #spacer: HTMLElement
  readonly #options: VirtualListOptions<T>
  #items: Sequence<T> = []
  #frame = 0
  /** The rows drawn, by index, in order; reused while they stay in view (a scroll draws only new ones). */
  #rows = new Map<number, HTMLElement>()

  constructor(options: VirtualListOptions<T>) {
    this.#options = options
    this.#spacer = h('div', { class: 'spacer' })
    this.element = h(
      'div',
      { class: 'viewport', 'data-testid': options.testId ?? 'track-list' },
      this.#spacer,
    )
    this.element.addEventListener('scroll', () => this.#schedule(), { passive: true })
    new ResizeObserver(() => this.#schedule()).observe(this.element)
  }

  /** The items: an array, or a sequence that makes an item when its row is drawn. */
  setItems(items: Sequence<T>): void {
    this.#items = items
    this.#rows.clear()
    this.#spacer.style.height = `${items.length * this.#options.rowHeight}px`
    // On screen: draw now (a change shows in the frame it arrived in), else when it is shown.
    if (this.element.isConnected) this.#draw()
    else this.#schedule()
  }

  /** Redraws the rows in view (after a change that does not change the items, e.g. now playing). */
  refresh(): void {
    this.#rows.clear()
    this.#schedule()
  }

  #schedule(): void {
    if (this.#frame !== 0) return
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0
      this.#draw()
    })
  }

  #draw(): void {
    const { rowHeight, render } = this.#options
    const overscan = this.#options.overscan ?? 8
    const first = Math.max(0, Math.floor(this.element.scrollTop / rowHeight) - overscan)
    const visible = Math.ceil(this.element.clientHeight / rowHeight) + 2 * overscan
    const last = Math.min(this.#items.length, first + visible)
    const rows = new Map<number, HTMLElement>()
    let fresh = false
    for (let i = first; i < last; i++) {
      let row = this.#rows.get(i)
      if (row === undefined) {
        const item = this.#items.at(i)
        if (item === undefined) continue
        row = render(item, i)
        row.style.top = `${i * rowHeight}px`
        fresh = true
      }
      rows.set(i, row)
    }
    // Rows in index order in the document too (tests and assistive technology read them so).
    const kept = [...this.#rows].filter(([i]) => rows.has(i))
    const sameRows = !fresh && kept.length === this.#rows.size
    if (!sameRows) {
      const low = kept[0]?.[0] ?? 0
      const high = kept.at(-1)?.[0] ?? 0
      const gap = [...rows.keys()].some((i) => i > low && i < high && !this.#rows.has(i))
      if (kept.length === 0 || gap) this.element.replaceChildren(this.#spacer, ...rows.values())
      else {
        for (const [i, row] of this.#rows) if (!rows.has(i)) row.remove()
        const top = kept[0]![1]
        for (const [i, row] of rows) {
          if (i < low) top.before(row)
          else if (i > high) this.element.append(row)
        }
      }
    }
    this.#rows = rows
    // For bench:web: when the page first showed rows, and when the live list did.
    if (rows.size > 0 && performance.getEntriesByName(LIBRARY_READY_MARK).length === 0) {
      if (performance.getEntriesByName(FIRST_ROWS_MARK).length === 0) performance.mark(FIRST_ROWS_MARK)
      performance.mark(LIBRARY_READY_MARK)
    }
  }
}
