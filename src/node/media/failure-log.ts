/**
 * Failed fetches told to the log in a few lines per burst, not one per track at every attempt. A
 * mirror whose only source is offline fails every track of the library at once, and tries them
 * all again at each new connection: one line per track and attempt was 10,000 lines a time.
 *
 * A track is told again only when its error changes (or after it was fetched and failed anew);
 * failures within `delayMs` of the first are told together, grouped by error.
 */
export class FailureLog {
  readonly #log: (line: string) => void
  readonly #delayMs: number
  /** Per content ID, the error told last. */
  readonly #told = new Map<string, string>()
  #pending: Array<{ title: string; error: string }> = []
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(log: (line: string) => void, delayMs = 1000) {
    this.#log = log
    this.#delayMs = delayMs
  }

  failed(contentId: string, title: string, error: string): void {
    if (this.#told.get(contentId) === error) return
    this.#told.set(contentId, error)
    this.#pending.push({ title, error })
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#delayMs)
      this.#timer.unref?.()
    }
  }

  /** The track was fetched: a later failure is news again. */
  fetched(contentId: string): void {
    this.#told.delete(contentId)
  }

  /** Tells what is pending now (called by the timer; by tests and at stop). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const pending = this.#pending
    this.#pending = []
    const byError = new Map<string, string[]>()
    for (const { title, error } of pending) {
      const titles = byError.get(error)
      if (titles === undefined) byError.set(error, [title])
      else titles.push(title)
    }
    for (const [error, titles] of byError) {
      if (titles.length === 1) {
        this.#log(`could not fetch "${titles[0]}": ${error}`)
        continue
      }
      const shown = titles.slice(0, 3).map((t) => `"${t}"`)
      const more = titles.length > 3 ? ` and ${titles.length - 3} more` : ''
      this.#log(
        `could not fetch ${titles.length} tracks (${shown.join(', ')}${more}): ${error}; ` +
          '`cloudless cache` lists them, and they are tried again when a device connects',
      )
    }
  }
}
