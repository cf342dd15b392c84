import type { AlbumView } from '../../crdt/index.ts'
import { ART_PATH } from '../stream/messages.ts'
import { h } from './dom.ts'
import type { GenreView, LibraryModel } from './library-model.ts'
import type { Source } from './library-view.ts'
import { VirtualList } from './virtual-list.ts'

export type BrowseKind = 'albums' | 'artists' | 'genres'

const CARD_WIDTH = 184
const CARD_ROW_HEIGHT = 240
const NAME_ROW_HEIGHT = 44

type Row = { kind: 'albums'; albums: AlbumView[] } | { kind: 'name'; name: string; detail: string }

/**
 * Albums as a cover grid, artists and genres as lists; all virtualized (a grid row is one list
 * row of as many cards as fit). Covers are `art/<coverId>`, which the service worker answers
 * with the image, fetched from a device like any blob and verified.
 */
export class BrowseView {
  readonly element: HTMLElement
  readonly #model: LibraryModel
  readonly #heading = h('h2', { 'data-testid': 'view-title' })
  readonly #count = h('span', { class: 'muted', 'data-testid': 'browse-count' })
  #kind: BrowseKind = 'albums'
  #list: VirtualList<Row>
  #query = ''
  #columns = 1
  onOpen: (source: Source) => void = () => {}

  constructor(model: LibraryModel) {
    this.#model = model
    this.#list = this.#makeList()
    this.element = h(
      'section',
      { class: 'library', 'data-testid': 'browse-view' },
      h('div', { class: 'view-head' }, this.#heading, this.#count),
      this.#list.element,
    )
    // Only while shown: albums, artists and genres are derived from every track (show() lists them).
    model.addEventListener('change', () => {
      if (this.element.isConnected) this.#apply()
    })
    new ResizeObserver(() => {
      const columns = Math.max(1, Math.floor((this.#list.element.clientWidth - 16) / CARD_WIDTH))
      if (columns !== this.#columns) {
        this.#columns = columns
        if (this.element.isConnected) this.#apply()
      }
    }).observe(this.element)
  }

  show(kind: BrowseKind): void {
    const changed = (kind === 'albums') !== (this.#kind === 'albums')
    this.#kind = kind
    if (changed) {
      const list = this.#makeList()
      this.#list.element.replaceWith(list.element)
      this.#list = list
    }
    this.#list.element.scrollTop = 0
    this.#apply()
  }

  search(query: string): void {
    this.#query = query.trim().toLocaleLowerCase()
    this.#apply()
  }

  #makeList(): VirtualList<Row> {
    return new VirtualList<Row>({
      rowHeight: this.#kind === 'albums' ? CARD_ROW_HEIGHT : NAME_ROW_HEIGHT,
      render: (row) => this.#render(row),
      testId: 'browse-list',
      overscan: 2,
    })
  }

  #matches(...texts: string[]): boolean {
    const words = this.#query.split(/\s+/).filter(Boolean)
    const text = texts.join('\u0000').toLocaleLowerCase()
    return words.every((w) => text.includes(w))
  }

  #apply(): void {
    const titles = { albums: 'Albums', artists: 'Artists', genres: 'Genres' } as const
    this.#heading.textContent = titles[this.#kind]
    let rows: Row[]
    let count: number
    if (this.#kind === 'albums') {
      const albums = this.#model.albums().filter((a) => this.#matches(a.title, a.albumArtist))
      count = albums.length
      rows = []
      for (let i = 0; i < albums.length; i += this.#columns) {
        rows.push({ kind: 'albums', albums: albums.slice(i, i + this.#columns) })
      }
    } else {
      const named: Array<{ name: string; detail: string }> =
        this.#kind === 'artists'
          ? this.#model.artists().map((a) => ({
              name: a.name,
              detail: `${a.albumCount} albums · ${a.trackCount} tracks`,
            }))
          : this.#model.genres().map((g: GenreView) => ({ name: g.name, detail: `${g.trackCount} tracks` }))
      rows = named.filter((n) => this.#matches(n.name)).map((n) => ({ kind: 'name', ...n }))
      count = rows.length
    }
    this.#count.textContent = String(count)
    this.#count.dataset.count = String(count)
    this.#list.setItems(rows)
  }

  #render(row: Row): HTMLElement {
    if (row.kind === 'albums') {
      return h('div', { class: 'card-row' }, ...row.albums.map((album) => this.#card(album)))
    }
    const kind = this.#kind === 'artists' ? 'artist' : 'genre'
    const element = h(
      'div',
      { class: 'row name-row', 'data-testid': `${kind}-row` },
      h('span', {}, row.name),
      h('span', { class: 'muted' }, row.detail),
    )
    element.addEventListener('click', () => this.onOpen({ kind, name: row.name }))
    return element
  }

  #card(album: AlbumView): HTMLElement {
    const art =
      album.cover === null
        ? h('div', { class: 'art none' }, '♪')
        : h('img', { class: 'art', src: `${ART_PATH}${album.cover}`, alt: '', loading: 'lazy' })
    const card = h(
      'button',
      { type: 'button', class: 'card', 'data-testid': 'album-card', 'data-album-id': album.id },
      art,
      h('strong', {}, album.title),
      h('span', { class: 'muted' }, album.albumArtist),
    )
    card.addEventListener('click', () => this.onOpen({ kind: 'album', id: album.id }))
    return card
  }
}
