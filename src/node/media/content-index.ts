import type { Catalog } from '../../crdt/index.ts'

/** contentId -> track ids: the catalog keeps this index up to date itself. */
export class ContentIndex {
  readonly #catalog: Catalog

  constructor(catalog: Catalog) {
    this.#catalog = catalog
  }

  tracksOf(contentId: string): string[] {
    return this.#catalog.tracksOfContent(contentId)
  }
}
