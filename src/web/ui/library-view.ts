import { listPlaylists, type TrackView, UserData } from '../../crdt/index.ts'
import type { WebPeer } from '../peer/peer.ts'
import type { Pins } from '../stream/pins.ts'
import { h } from './dom.ts'
import { saveFirstScreen } from './first-screen.ts'
import type { LibraryModel } from './library-model.ts'
import { showMenu } from './menu.ts'
import type { Sequence } from './play-queue.ts'
import { VirtualList } from './virtual-list.ts'

const ROW_HEIGHT = 44

/**
 * What the list shows: every track, the videos, the favourites, one playlist in its order, or
 * the tracks of an album, an artist or a genre (browse-view.ts lists those).
 */
export type Source =
  | { kind: 'all' }
  | { kind: 'videos' }
  | { kind: 'favourites' }
  | { kind: 'playlist'; id: string }
  | { kind: 'album'; id: string }
  | { kind: 'artist'; name: string }
  | { kind: 'genre'; name: string }

/** One row: a track, and its position in a playlist (a track may appear twice). */
interface Item {
  track: TrackView
  position?: number
}

function duration(seconds: number | null): string {
  if (seconds === null) return ''
  const s = Math.round(seconds)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/**
 * The tracks of a source in one virtualized list, searched as you type, with favourites and
 * playlist actions on every row. Rebuilt when the catalog changes (a sync, an edit), at most
 * once per animation frame; every change it makes goes into the catalog, so it replicates.
 */
export class LibraryView {
  readonly element: HTMLElement
  readonly #peer: WebPeer
  readonly #model: LibraryModel
  readonly #pins: Pins
  readonly #list: VirtualList<Item>
  readonly #count: HTMLElement
  readonly #heading: HTMLElement
  readonly #actions: HTMLElement
  #source: Source = { kind: 'all' }
  #visible: Sequence<Item> = []
  #query = ''
  #playing: string | undefined
  /** The devices connected now (kept up to date from 'status', not asked for every row). */
  #connected: Set<string>
  /** A row was clicked: play `track`, which is at `index` of `queue`. */
  onPlay: (track: TrackView, queue: Sequence<TrackView>, index: number) => void = () => {}
  /** The source was deleted (a playlist): the app shows another. */
  onSourceGone: () => void = () => {}

  constructor(peer: WebPeer, model: LibraryModel, pins: Pins) {
    this.#peer = peer
    this.#model = model
    this.#pins = pins
    this.#connected = new Set(peer.status().connected)
    this.#count = h('span', { 'data-testid': 'track-count', class: 'muted' })
    this.#heading = h('h2', { 'data-testid': 'view-title' })
    this.#actions = h('div', { class: 'view-actions' })
    this.#list = new VirtualList<Item>({ rowHeight: ROW_HEIGHT, render: (item, i) => this.#row(item, i) })
    this.element = h(
      'section',
      { class: 'library', 'data-testid': 'library-view' },
      h('div', { class: 'view-head' }, this.#heading, this.#actions, this.#count),
      h(
        'div',
        { class: 'list-head' },
        h('span', {}, '#'),
        h('span', {}, ''),
        h('span', {}, 'Title'),
        h('span', {}, 'Artist'),
        h('span', {}, 'Album'),
        h('span', {}, 'Time'),
        h('span', {}, 'On'),
        h('span', {}, ''),
      ),
      this.#list.element,
    )
    model.addEventListener('change', () => this.#apply())
    peer.addEventListener('status', () => {
      this.#connected = new Set(peer.status().connected)
      this.#list.refresh()
    })
    pins.addEventListener('change', () => this.#list.refresh())
    this.#apply()
  }

  get source(): Source {
    return this.#source
  }

  show(source: Source): void {
    this.#source = source
    this.#list.element.scrollTop = 0
    this.#apply()
  }

  search(query: string): void {
    this.#query = query.trim().toLocaleLowerCase()
    this.#apply()
  }

  setPlaying(trackId: string | undefined): void {
    this.#playing = trackId
    this.#list.refresh()
  }

  /** The source's items; "All tracks" decodes a track only when its row is drawn. */
  #items(): Sequence<Item> {
    const source = this.#source
    switch (source.kind) {
      case 'all': {
        const tracks = this.#model.sequence()
        return {
          length: tracks.length,
          at: (index) => {
            const track = tracks.at(index)
            return track === undefined ? undefined : { track }
          },
        }
      }
      case 'videos':
        return this.#model.tracks.filter((t) => t.mediaType === 'video').map((track) => ({ track }))
      case 'favourites':
        return this.#model.tracks.filter((t) => t.favourite).map((track) => ({ track }))
      case 'artist':
        return this.#model.tracks
          .filter((t) => t.artists.includes(source.name) || t.albumArtist === source.name)
          .map((track) => ({ track }))
      case 'genre':
        return this.#model.tracks.filter((t) => t.genres.includes(source.name)).map((track) => ({ track }))
      case 'album': {
        const album = this.#model.albums().find((a) => a.id === source.id)
        return (album?.trackIds ?? []).flatMap((id) => {
          const track = this.#model.track(id)
          return track === undefined ? [] : [{ track }]
        })
      }
      case 'playlist': {
        const record = UserData.of(this.#peer.catalog).playlist(source.id)
        if (record === undefined) return []
        return record.trackIds.flatMap((id, position) => {
          const track = this.#model.track(id)
          return track === undefined ? [] : [{ track, position }]
        })
      }
    }
  }

  #apply(): void {
    const words = this.#query.split(/\s+/).filter(Boolean)
    const items = this.#items()
    this.#visible =
      words.length === 0
        ? items
        : toArray(items).filter(({ track }) => {
            const text = this.#model.searchText(track.id)
            return words.every((w) => text.includes(w))
          })
    this.#count.textContent = `${this.#visible.length} ${this.#visible.length === 1 ? 'item' : 'items'}`
    this.#count.dataset.count = String(this.#visible.length)
    this.#renderHead()
    this.#list.setItems(this.#visible)
    if (this.#source.kind === 'all' && words.length === 0) {
      saveFirstScreen(this.#peer.deviceId, this.#model.sequence())
    }
  }

  #renderHead(): void {
    const source = this.#source
    const titles = { all: 'All tracks', videos: 'Videos', favourites: 'Favourites' } as const
    if (source.kind === 'album' || source.kind === 'artist' || source.kind === 'genre') {
      const album = source.kind === 'album' ? this.#model.albums().find((a) => a.id === source.id) : undefined
      this.#heading.textContent =
        source.kind === 'album' ? `${album?.title ?? 'Album'} — ${album?.albumArtist ?? ''}` : source.name
      this.#actions.replaceChildren(
        h(
          'button',
          {
            type: 'button',
            'data-testid': 'view-pin',
            onclick: () => void this.#pins.pin(toArray(this.#items()).map((i) => i.track.id)),
          },
          'Keep offline',
        ),
      )
      return
    }
    if (source.kind !== 'playlist') {
      this.#heading.textContent = titles[source.kind]
      this.#actions.replaceChildren()
      return
    }
    const playlist = listPlaylists(this.#peer.catalog).find((p) => p.id === source.id)
    if (playlist === undefined) {
      queueMicrotask(() => this.onSourceGone())
      return
    }
    this.#heading.textContent = playlist.name
    const user = UserData.of(this.#peer.catalog)
    this.#actions.replaceChildren(
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'playlist-rename',
          onclick: () => {
            const name = prompt('Rename the playlist', playlist.name)?.trim()
            if (name) user.renamePlaylist(playlist.id, name)
          },
        },
        'Rename',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'playlist-delete',
          onclick: () => {
            if (confirm(`Delete the playlist “${playlist.name}” on every device?`))
              user.deletePlaylist(playlist.id)
          },
        },
        'Delete',
      ),
    )
  }

  #row({ track, position }: Item, index: number): HTMLElement {
    const { catalog } = this.#peer
    const connected = this.#connected
    const holders = [...new Set(track.locations.map((l) => l.device))]
    const names = holders.map((id) =>
      id === this.#peer.deviceId ? 'this browser' : (catalog.devices.get(id)?.name ?? id.slice(-6)),
    )
    const online = holders.some((id) => connected.has(id))
    const pin = this.#pins.state(track.id)
    const kept = pin === 'kept' ? ' · kept here' : pin === 'fetching' ? ' · keeping…' : ''
    const user = UserData.of(catalog)
    const fav = h(
      'button',
      {
        type: 'button',
        class: track.favourite ? 'icon fav on' : 'icon fav',
        'data-testid': 'fav-toggle',
        'aria-pressed': String(track.favourite),
        title: track.favourite ? 'Remove from favourites' : 'Add to favourites',
      },
      track.favourite ? '★' : '☆',
    )
    fav.addEventListener('click', (event) => {
      event.stopPropagation()
      user.setFavourite(track.id, !track.favourite)
    })
    const more = h(
      'button',
      { type: 'button', class: 'icon', 'data-testid': 'track-menu', title: 'More' },
      '⋯',
    )
    more.addEventListener('click', (event) => {
      event.stopPropagation()
      showMenu(more, this.#menuItems(track, position))
    })
    const row = h(
      'div',
      {
        class: `row${track.id === this.#playing ? ' playing' : ''}`,
        'data-testid': 'track-row',
        'data-track-id': track.id,
        'data-pin': pin,
        title: `${track.title} — on ${names.join(', ')}${online ? '' : ' (offline)'}`,
      },
      h('span', { class: 'muted' }, String(index + 1)),
      fav,
      h(
        'span',
        {},
        track.title,
        track.rating === null
          ? ''
          : h(
              'span',
              { class: 'rating', 'data-testid': 'rating', title: `rated ${track.rating} of 5` },
              ` ${'★'.repeat(track.rating)}`,
            ),
      ),
      h('span', {}, track.artists.join(', ')),
      h('span', {}, track.album ?? ''),
      h('span', { class: 'muted' }, duration(track.durationSec)),
      h(
        'span',
        { class: online || pin === 'kept' ? 'where online' : 'where' },
        `${online ? '●' : '○'} ${names.join(', ')}${kept}`,
      ),
      more,
    )
    const visible = this.#visible
    row.addEventListener('click', () =>
      this.onPlay(track, { length: visible.length, at: (i) => visible.at(i)?.track }, index),
    )
    return row
  }

  #menuItems(track: TrackView, position: number | undefined): Array<{ label: string; run(): void }> {
    const user = UserData.of(this.#peer.catalog)
    const items = listPlaylists(this.#peer.catalog).map((p) => ({
      label: `Add to ${p.name}`,
      run: () => user.addToPlaylist(p.id, [track.id]),
    }))
    for (let stars = 1; stars <= 5; stars++) {
      if (stars !== track.rating)
        items.push({ label: `Rate ${'★'.repeat(stars)}`, run: () => user.setRating(track.id, stars) })
    }
    if (track.rating !== null)
      items.push({ label: 'Clear the rating', run: () => user.setRating(track.id, 0) })
    const pinned = this.#pins.state(track.id) !== 'none'
    items.push(
      pinned
        ? { label: 'Stop keeping offline', run: () => void this.#pins.unpin([track.id]) }
        : { label: 'Keep offline', run: () => void this.#pins.pin([track.id]) },
    )
    if (track.album !== null) {
      const artist = track.albumArtist ?? track.artists[0] ?? ''
      const album = this.#model.tracks.filter(
        (t) => t.album === track.album && (t.albumArtist ?? t.artists[0] ?? '') === artist,
      )
      items.push({
        label: `Keep the album “${track.album}” offline`,
        run: () => void this.#pins.pin(album.map((t) => t.id)),
      })
    }
    const source = this.#source
    if (source.kind === 'playlist' && position !== undefined) {
      const length = user.playlist(source.id)?.trackIds.length ?? 0
      if (position > 0)
        items.push({ label: 'Move up', run: () => user.movePlaylistItem(source.id, position, position - 1) })
      if (position < length - 1)
        items.push({
          label: 'Move down',
          run: () => user.movePlaylistItem(source.id, position, position + 1),
        })
      items.push({
        label: 'Remove from this playlist',
        run: () => void user.removeFromPlaylist(source.id, [position]),
      })
    }
    return items
  }
}

function toArray<T>(items: Sequence<T>): T[] {
  if (Array.isArray(items)) return items
  const out: T[] = []
  for (let i = 0; i < items.length; i++) {
    const item = items.at(i)
    if (item !== undefined) out.push(item)
  }
  return out
}
