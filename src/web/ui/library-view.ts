import { listTracks, type TrackView } from '../../crdt/index.ts'
import type { WebPeer } from '../peer/peer.ts'
import { h } from './dom.ts'
import { VirtualList } from './virtual-list.ts'

const ROW_HEIGHT = 44

/** Text a search matches against: title, artists, album, genres. */
function haystack(track: TrackView): string {
  return [track.title, ...track.artists, track.album ?? '', track.albumArtist ?? '', ...track.genres]
    .join('\u0000')
    .toLocaleLowerCase()
}

function duration(seconds: number | null): string {
  if (seconds === null) return ''
  const s = Math.round(seconds)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/**
 * Every track of the library in one virtualized list, searched as you type. Rebuilt when the
 * catalog changes (a sync, an edit), at most once per animation frame.
 */
export class LibraryView {
  readonly element: HTMLElement
  readonly #peer: WebPeer
  readonly #list: VirtualList<TrackView>
  readonly #count: HTMLElement
  #tracks: Array<{ track: TrackView; text: string }> = []
  #query = ''
  #playing: string | undefined
  #pending = 0
  onPlay: (track: TrackView, queue: TrackView[]) => void = () => {}

  constructor(peer: WebPeer) {
    this.#peer = peer
    this.#count = h('span', { 'data-testid': 'track-count', class: 'muted' })
    this.#list = new VirtualList<TrackView>({ rowHeight: ROW_HEIGHT, render: (t, i) => this.#row(t, i) })
    this.element = h(
      'section',
      {
        class: 'library',
        'data-testid': 'library-view',
        style: 'display:flex;flex-direction:column;flex:1;min-height:0',
      },
      h(
        'div',
        { class: 'list-head' },
        h('span', {}, '#'),
        h('span', {}, 'Title'),
        h('span', {}, 'Artist'),
        h('span', {}, 'Album'),
        h('span', {}, 'Time'),
        this.#count,
      ),
      this.#list.element,
    )
    peer.addEventListener('catalog', () => this.#scheduleReload())
    peer.addEventListener('status', () => this.#list.refresh())
    this.#reload()
  }

  search(query: string): void {
    this.#query = query.trim().toLocaleLowerCase()
    this.#apply()
  }

  setPlaying(trackId: string | undefined): void {
    this.#playing = trackId
    this.#list.refresh()
  }

  #scheduleReload(): void {
    if (this.#pending !== 0) return
    this.#pending = requestAnimationFrame(() => {
      this.#pending = 0
      this.#reload()
    })
  }

  #reload(): void {
    this.#tracks = listTracks(this.#peer.catalog).map((track) => ({ track, text: haystack(track) }))
    this.#apply()
  }

  #visible(): TrackView[] {
    const words = this.#query.split(/\s+/).filter(Boolean)
    return this.#tracks.filter(({ text }) => words.every((w) => text.includes(w))).map(({ track }) => track)
  }

  #apply(): void {
    const visible = this.#visible()
    this.#count.textContent = `${visible.length} tracks`
    this.#list.setItems(visible)
  }

  #row(track: TrackView, index: number): HTMLElement {
    const connected = new Set(this.#peer.status().connected)
    const holders = track.locations.map((l) => l.device)
    const names = [...new Set(holders)].map((id) => this.#peer.catalog.devices.get(id)?.name ?? id.slice(-6))
    const online = holders.some((id) => connected.has(id))
    const row = h(
      'div',
      {
        class: `row${track.id === this.#playing ? ' playing' : ''}`,
        'data-testid': 'track-row',
        'data-track-id': track.id,
        title: `${track.title} — on ${names.join(', ')}${online ? '' : ' (offline)'}`,
      },
      h('span', { class: 'muted' }, String(index + 1)),
      h('span', {}, track.title),
      h('span', {}, track.artists.join(', ')),
      h('span', {}, track.album ?? ''),
      h('span', { class: 'muted' }, duration(track.durationSec)),
      h('span', { class: online ? 'where online' : 'where' }, `${online ? '●' : '○'} ${names.join(', ')}`),
    )
    row.addEventListener('click', () => this.onPlay(track, this.#visible()))
    return row
  }
}
