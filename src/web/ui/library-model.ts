import {
  type AlbumView,
  type ArtistView,
  listAlbums,
  listArtists,
  listTracks,
  type TrackView,
} from '../../crdt/index.ts'
import type { WebPeer } from '../peer/peer.ts'

export interface GenreView {
  name: string
  trackCount: number
}

/**
 * The catalog as the views read it: every track with the user's edits (views.ts), and albums,
 * artists and genres derived when first asked for. Recomputed at most once per animation frame
 * after catalog changes; dispatches 'change' then.
 */
export class LibraryModel extends EventTarget {
  readonly #peer: WebPeer
  #tracks: TrackView[] = []
  #byId = new Map<string, TrackView>()
  #text = new Map<string, string>()
  #albums: AlbumView[] | undefined
  #artists: ArtistView[] | undefined
  #genres: GenreView[] | undefined
  #frame = 0

  constructor(peer: WebPeer) {
    super()
    this.#peer = peer
    peer.addEventListener('catalog', () => {
      if (this.#frame !== 0) return
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0
        this.#load()
        this.dispatchEvent(new Event('change'))
      })
    })
    this.#load()
  }

  /** Sorted for display: album artist, album, disc, track number, title. */
  get tracks(): TrackView[] {
    return this.#tracks
  }

  track(id: string): TrackView | undefined {
    return this.#byId.get(id)
  }

  /** Lower-case text a search matches against: title, artists, album, genres. */
  searchText(id: string): string {
    return this.#text.get(id) ?? ''
  }

  albums(): AlbumView[] {
    this.#albums ??= listAlbums(this.#tracks)
    return this.#albums
  }

  artists(): ArtistView[] {
    this.#artists ??= listArtists(this.#tracks)
    return this.#artists
  }

  genres(): GenreView[] {
    if (this.#genres === undefined) {
      const counts = new Map<string, GenreView>()
      for (const track of this.#tracks) {
        for (const name of track.genres) {
          const key = name.toLocaleLowerCase()
          const genre = counts.get(key) ?? { name, trackCount: 0 }
          genre.trackCount++
          counts.set(key, genre)
        }
      }
      this.#genres = [...counts.values()].sort((a, b) => a.name.localeCompare(b.name))
    }
    return this.#genres
  }

  #load(): void {
    this.#tracks = listTracks(this.#peer.catalog)
    this.#byId = new Map(this.#tracks.map((t) => [t.id, t]))
    this.#text = new Map(
      this.#tracks.map((t) => [
        t.id,
        [t.title, ...t.artists, t.album ?? '', t.albumArtist ?? '', ...t.genres]
          .join('\u0000')
          .toLocaleLowerCase(),
      ]),
    )
    this.#albums = undefined
    this.#artists = undefined
    this.#genres = undefined
    if (performance.getEntriesByName('cloudless:tracks-listed').length === 0) {
      performance.mark('cloudless:tracks-listed')
    }
  }
}
