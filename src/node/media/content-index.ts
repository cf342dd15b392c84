import type { Catalog } from '../../crdt/index.ts'

/** contentId -> track ids, rebuilt lazily after the tracks change (a fetch must not scan 100k tracks). */
export class ContentIndex {
  readonly #catalog: Catalog
  #index: Map<string, string[]> | undefined

  constructor(catalog: Catalog) {
    this.#catalog = catalog
    catalog.tracks.observe(() => {
      this.#index = undefined
    })
  }

  tracksOf(contentId: string): string[] {
    if (this.#index === undefined) {
      this.#index = new Map()
      for (const [id, record] of this.#catalog.trackEntries()) {
        const list = this.#index.get(record.contentId)
        if (list === undefined) this.#index.set(record.contentId, [id])
        else list.push(id)
      }
    }
    return this.#index.get(contentId) ?? []
  }
}
