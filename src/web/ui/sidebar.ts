import { listPlaylists, UserData } from '../../crdt/index.ts'
import type { WebPeer } from '../peer/peer.ts'
import type { PinProgress, Pins } from '../stream/pins.ts'
import type { BrowseKind } from './browse-view.ts'
import { DevicesPanel } from './devices-panel.ts'
import { h } from './dom.ts'
import { InvitePanel } from './invite-panel.ts'
import type { Source } from './library-view.ts'

/** What the app shows: a list of tracks, or albums, artists or genres to browse. */
export type View = Source | { kind: BrowseKind }

export function isBrowse(view: View): view is { kind: BrowseKind } {
  return view.kind === 'albums' || view.kind === 'artists' || view.kind === 'genres'
}

function same(a: View, b: View): boolean {
  return a.kind === b.kind && (a.kind !== 'playlist' || (b.kind === 'playlist' && a.id === b.id))
}

/** The views (all tracks, videos, favourites) and the library's playlists, with "New playlist". */
export class Sidebar {
  readonly element: HTMLElement
  readonly #peer: WebPeer
  readonly #pins: Pins | undefined
  readonly #offline = h('p', { class: 'storage muted', 'data-testid': 'pin-progress' })
  /** Kept across redraws: it may show an invite. */
  readonly #invite = new InvitePanel()
  /** Kept across redraws: it measures round trips in the background. */
  readonly #devices: DevicesPanel
  #current: View = { kind: 'all' }
  #pending = 0
  onSelect: (view: View) => void = () => {}

  constructor(peer: WebPeer, pins?: Pins) {
    this.#peer = peer
    this.#pins = pins
    this.#devices = new DevicesPanel(peer)
    this.element = h('nav', { class: 'sidebar', 'data-testid': 'sidebar' })
    peer.addEventListener('catalog', () => {
      if (this.#pending !== 0) return
      this.#pending = requestAnimationFrame(() => {
        this.#pending = 0
        this.#render()
      })
    })
    const showOffline = () => {
      this.#offline.textContent = describeOffline(this.#pins?.progress())
    }
    this.#pins?.addEventListener('change', showOffline)
    this.#pins?.addEventListener('progress', showOffline)
    showOffline()
    this.#render()
  }

  select(view: View): void {
    this.#current = view
    this.#render()
    this.onSelect(view)
  }

  #render(): void {
    const entry = (label: string, source: View, testId: string) => {
      const button = h(
        'button',
        { type: 'button', class: same(source, this.#current) ? 'nav active' : 'nav', 'data-testid': testId },
        label,
      )
      button.addEventListener('click', () => this.select(source))
      return button
    }
    const playlists = listPlaylists(this.#peer.catalog)
    const create = h(
      'button',
      { type: 'button', class: 'nav new', 'data-testid': 'playlist-new' },
      '+ New playlist',
    )
    create.addEventListener('click', () => {
      const name = prompt('Name of the new playlist')?.trim()
      if (!name) return
      const id = UserData.of(this.#peer.catalog).createPlaylist(name)
      this.select({ kind: 'playlist', id })
    })
    const storage = h('p', { class: 'storage muted', 'data-testid': 'storage' })
    void showStorage(storage)
    this.element.replaceChildren(
      entry('All tracks', { kind: 'all' }, 'nav-all'),
      entry('Albums', { kind: 'albums' }, 'nav-albums'),
      entry('Artists', { kind: 'artists' }, 'nav-artists'),
      entry('Genres', { kind: 'genres' }, 'nav-genres'),
      entry('Videos', { kind: 'videos' }, 'nav-videos'),
      entry('Favourites', { kind: 'favourites' }, 'nav-favourites'),
      h('h3', {}, 'Playlists'),
      ...playlists.map((p) => {
        const button = entry(p.name, { kind: 'playlist', id: p.id }, 'nav-playlist')
        button.dataset.playlistId = p.id
        return button
      }),
      create,
      this.#devices.element,
      this.#invite.element,
      this.#offline,
      storage,
    )
  }
}

/** "Keeping offline: 3 of 12 tracks (40%)", or what is kept once all are in. */
function describeOffline(progress: PinProgress | undefined): string {
  if (progress === undefined || progress.kept + progress.pending === 0) return ''
  if (progress.pending === 0)
    return `Kept offline: ${progress.kept} ${progress.kept === 1 ? 'track' : 'tracks'}`
  const total = progress.kept + progress.pending
  const current = progress.current
  const part = current === undefined || current.total === 0 ? 0 : current.done / current.total
  const percent = Math.floor((100 * (progress.kept + part)) / total)
  return `Keeping offline: ${progress.kept} of ${total} tracks (${percent}%)`
}

/** Space this browser uses for the library (blocks, catalog) against what it may use. */
async function showStorage(element: HTMLElement): Promise<void> {
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined)
  if (estimate?.usage === undefined || estimate.quota === undefined) return
  const mb = (bytes: number) =>
    bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.max(0.1, bytes / 1e6).toFixed(1)} MB`
  element.textContent = `Stored here: ${mb(estimate.usage)} of ${mb(estimate.quota)}`
}
