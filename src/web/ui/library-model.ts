import type * as Y from 'yjs'
import {
  type AlbumView,
  type ArtistView,
  compareTracks,
  findTrack,
  folderTrackIds,
  listAlbums,
  listArtists,
  listTracks,
  type TrackView,
  trackView,
  UserData,
} from '../../crdt/index.ts'
import type { WebPeer } from '../peer/peer.ts'
import { cachedOrder, type ListingCache, listingFingerprint, writeListingCache } from './listing-cache.ts'
import type { Sequence } from './play-queue.ts'

export interface GenreView {
  name: string
  trackCount: number
}

/** All tracks are in order (from the kept order or a full listing): bench:web reads it. */
export const TRACKS_LISTED_MARK = 'cloudless:tracks-listed'
/** Every track is decoded: search and browsing have all they need. */
export const TRACKS_DECODED_MARK = 'cloudless:tracks-decoded'
/** Every track was decoded and sorted anew (once per page load, or after a big change). */
export const LISTED_ALL_MARK = 'cloudless:listed-all'
/** The order of all tracks was written to IndexedDB for the next page load. */
export const LISTING_SAVED_MARK = 'cloudless:listing-saved'

/**
 * The background decoding runs when the page is idle (between frames), at most this long at a
 * time, so that scrolling stays smooth meanwhile; and at least every IDLE_TIMEOUT_MS.
 */
const SLICE_MS = 8
const IDLE_TIMEOUT_MS = 200
/** More changed tracks than this at once: list everything anew rather than one by one. */
const RELIST_OVER = 2000
/** Quiet time after a change before the order is written for the next page load. */
const SAVE_AFTER_MS = 1500

/** Which track a key of a user-data map is about (user-data.ts). */
const TRACK_OF_KEY: Record<'edits' | 'ratings' | 'favourites' | 'plays', (key: string) => string> = {
  edits: (key) => key.slice(0, key.lastIndexOf('\u001f')),
  ratings: (key) => key,
  favourites: (key) => key,
  plays: (key) => key.slice(0, key.indexOf('/')),
}

/**
 * The catalog as the views read it: every track with the user's edits (views.ts) in display order,
 * and albums, artists and genres derived when first asked for.
 *
 * Built for 100k tracks (bench:web). The order of all tracks comes from IndexedDB when it was
 * kept for this very catalog (listing-cache.ts), and a track is decoded only when a row shows it;
 * the rest are decoded in the background, in slices, for search and browsing. Without a kept
 * order the whole catalog is listed once. After that a change costs only the tracks it touches:
 * the folders that changed (the `files` map's changed keys, old and new values) and the tracks
 * whose edits, rating, favourite or plays changed are decoded again and moved to their place.
 * Dispatches 'change' at most once per animation frame after catalog changes.
 */
export class LibraryModel extends EventTarget {
  readonly #peer: WebPeer
  /** Every track id, in display order. Replaced, never changed in place (queues keep old ones). */
  #order: string[] = []
  /** Tracks decoded so far; every one of #order once #complete. */
  readonly #views = new Map<string, TrackView>()
  #complete = false
  /** The background decoding: the catalog's tracks not decoded yet. */
  #decoding: { generation: number; entries: Iterator<[string, TrackView]> } | undefined
  /** Bumped by every change that decodes tracks again; a decoding of an older one starts over. */
  #generation = 0
  #all: TrackView[] | undefined
  readonly #text = new Map<string, string>()
  #albums: AlbumView[] | undefined
  #artists: ArtistView[] | undefined
  #genres: GenreView[] | undefined
  /** Tracks changed since the last frame. */
  readonly #dirty = new Set<string>()
  #frame = 0
  #saveTimer: ReturnType<typeof setTimeout> | undefined
  /** The fingerprint of the order last read from or written to IndexedDB. */
  #savedFingerprint: string | undefined

  constructor(peer: WebPeer, cache?: ListingCache) {
    super()
    this.#peer = peer
    const { catalog } = peer
    const kept = cachedOrder(cache, catalog)
    if (kept !== undefined) {
      this.#order = kept
      this.#savedFingerprint = cache?.fingerprint
      this.#decodeInBackground()
    } else {
      this.#listAll()
      this.#scheduleSave()
    }
    if (performance.getEntriesByName(TRACKS_LISTED_MARK).length === 0)
      performance.mark(TRACKS_LISTED_MARK, { detail: { kept: kept !== undefined } })
    this.#observe()
  }

  /** Every track id, in display order (album artist, album, disc, track number, title). */
  get order(): readonly string[] {
    return this.#order
  }

  /** Every track, sorted for display. Decodes what is not decoded yet (at once: use sparingly). */
  get tracks(): TrackView[] {
    this.#decodeAll()
    // track(): a track removed by a change not placed yet (next frame) is left out.
    this.#all ??= this.#order.flatMap((id) => {
      const track = this.track(id)
      return track === undefined ? [] : [track]
    })
    return this.#all
  }

  /** All tracks as a sequence that decodes a track when asked for it (the order of now). */
  sequence(): Sequence<TrackView> {
    const order = this.#order
    return {
      length: order.length,
      at: (index) => {
        const id = order[index]
        return id === undefined ? undefined : this.track(id)
      },
    }
  }

  /** True when IndexedDB holds the order of the catalog as it is now (the next load starts with it). */
  get orderKept(): boolean {
    return (
      this.#dirty.size === 0 &&
      this.#savedFingerprint !== undefined &&
      this.#savedFingerprint === listingFingerprint(this.#peer.catalog)
    )
  }

  /** True once every track is decoded (search and browsing are then instant). */
  get complete(): boolean {
    return this.#complete
  }

  track(id: string): TrackView | undefined {
    let view = this.#views.get(id)
    if (view === undefined) {
      view = findTrack(this.#peer.catalog, id)
      if (view !== undefined) this.#views.set(id, view)
    }
    return view
  }

  /** Lower-case text a search matches against: title, artists, album, genres. */
  searchText(id: string): string {
    let text = this.#text.get(id)
    if (text === undefined) {
      const t = this.track(id)
      if (t === undefined) return ''
      text = [t.title, ...t.artists, t.album ?? '', t.albumArtist ?? '', ...t.genres]
        .join('\u0000')
        .toLocaleLowerCase()
      this.#text.set(id, text)
    }
    return text
  }

  albums(): AlbumView[] {
    this.#albums ??= listAlbums(this.tracks)
    return this.#albums
  }

  artists(): ArtistView[] {
    this.#artists ??= listArtists(this.tracks)
    return this.#artists
  }

  genres(): GenreView[] {
    if (this.#genres === undefined) {
      const counts = new Map<string, GenreView>()
      for (const track of this.tracks) {
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

  /** Lists every track anew: decode all, sort all. */
  #listAll(): void {
    const tracks = listTracks(this.#peer.catalog)
    performance.mark(LISTED_ALL_MARK)
    this.#views.clear()
    this.#text.clear()
    for (const track of tracks) this.#views.set(track.id, track)
    this.#order = tracks.map((t) => t.id)
    this.#all = tracks
    this.#complete = true
    this.#decoding = undefined
    this.#derivedChanged()
    if (performance.getEntriesByName(TRACKS_DECODED_MARK).length === 0) performance.mark(TRACKS_DECODED_MARK)
  }

  #observe(): void {
    const { catalog } = this.#peer
    // A folder's value changed: every track of its old value and of its new one.
    catalog.files.observe((event) => {
      for (const [key, change] of event.changes.keys) {
        if (typeof change.oldValue === 'string') this.#dirtyFolder(change.oldValue)
        const now = catalog.files.get(key)
        if (now !== undefined) this.#dirtyFolder(now)
      }
    })
    const user = UserData.of(catalog)
    for (const [name, trackOf] of Object.entries(TRACK_OF_KEY)) {
      const map = user[name as keyof typeof TRACK_OF_KEY] as Y.Map<unknown>
      map.observe((event) => {
        for (const key of event.keysChanged) this.#dirty.add(trackOf(key))
      })
    }
    // A tab closed right after a change would otherwise leave an order that no longer fits.
    addEventListener('pagehide', () => this.#saveBeforeLeaving())
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.#saveBeforeLeaving()
    })
    // Every change (playlists and device names too) redraws; changed tracks are placed first.
    this.#peer.addEventListener('catalog', () => {
      if (this.#frame !== 0) return
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0
        this.#applyChanges()
        this.dispatchEvent(new Event('change'))
      })
    })
  }

  #dirtyFolder(json: string): void {
    for (const id of folderTrackIds(json)) this.#dirty.add(id)
  }

  #applyChanges(): void {
    if (this.#dirty.size === 0) return
    const dirty = new Set(this.#dirty)
    this.#dirty.clear()
    this.#generation++
    this.#scheduleSave()
    if (dirty.size > RELIST_OVER) {
      this.#listAll()
      return
    }
    for (const id of dirty) {
      this.#views.delete(id)
      this.#text.delete(id)
    }
    const order = this.#order.filter((id) => !dirty.has(id))
    for (const id of dirty) {
      const view = this.track(id)
      if (view === undefined) continue // gone from the catalog
      // Binary search for its place; the neighbours it meets are decoded (and kept) if need be.
      let low = 0
      let high = order.length
      while (low < high) {
        const mid = (low + high) >>> 1
        if (compareTracks(this.track(order[mid]!)!, view) < 0) low = mid + 1
        else high = mid
      }
      order.splice(low, 0, id)
    }
    this.#order = order
    this.#derivedChanged()
    if (!this.#complete) this.#decodeInBackground()
  }

  #derivedChanged(): void {
    this.#all = undefined
    this.#albums = undefined
    this.#artists = undefined
    this.#genres = undefined
  }

  /** The catalog's tracks as views, one folder at a time (what listTracks does, unsorted). */
  *#entries(): Generator<[string, TrackView]> {
    const { catalog } = this.#peer
    const user = UserData.of(catalog)
    const edits = user.editIndex()
    const plays = user.playCounts()
    for (const [id, record, locations] of catalog.tracksWithLocations()) {
      if (this.#views.has(id)) continue
      yield [
        id,
        trackView(id, record, locations, {
          edits: edits.get(id),
          rating: user.rating(id),
          favourite: user.isFavourite(id),
          plays: plays.get(id) ?? 0,
        }),
      ]
    }
  }

  /** Decodes the tracks not decoded yet in slices of a few ms, between which the page stays live. */
  #decodeInBackground(): void {
    if (this.#decoding !== undefined && this.#decoding.generation === this.#generation) return
    const decoding = { generation: this.#generation, entries: this.#entries() }
    this.#decoding = decoding
    const slice = (idle: IdleDeadline) => {
      if (this.#decoding !== decoding) return // finished, or started over after a change
      const budget = idle.didTimeout ? SLICE_MS : Math.min(SLICE_MS, idle.timeRemaining())
      if (this.#decode(performance.now() + budget)) return
      requestIdleCallback(slice, { timeout: IDLE_TIMEOUT_MS })
    }
    requestIdleCallback(slice, { timeout: IDLE_TIMEOUT_MS })
  }

  /** Decodes until `deadline` (ms, performance.now()); true when every track is decoded. */
  #decode(deadline: number): boolean {
    let decoding = this.#decoding
    if (decoding === undefined) return this.#complete
    if (decoding.generation !== this.#generation) {
      decoding = { generation: this.#generation, entries: this.#entries() }
      this.#decoding = decoding
    }
    let n = 0
    for (;;) {
      // Checking the clock costs too: every 64 tracks.
      if ((++n & 63) === 0 && performance.now() > deadline) return false
      const next = decoding.entries.next()
      if (next.done === true) break
      this.#views.set(next.value[0], next.value[1])
    }
    this.#decoding = undefined
    this.#complete = true
    this.#all = undefined
    if (performance.getEntriesByName(TRACKS_DECODED_MARK).length === 0) performance.mark(TRACKS_DECODED_MARK)
    return true
  }

  #decodeAll(): void {
    if (!this.#complete) this.#decode(Number.POSITIVE_INFINITY)
  }

  /** Writes the order for the next page load once changes have settled (only when it changed). */
  #scheduleSave(): void {
    clearTimeout(this.#saveTimer)
    this.#saveTimer = setTimeout(() => {
      if (this.#dirty.size > 0) this.#scheduleSave()
      else this.#save()
    }, SAVE_AFTER_MS)
  }

  #save(): void {
    clearTimeout(this.#saveTimer)
    const fingerprint = listingFingerprint(this.#peer.catalog)
    if (fingerprint === this.#savedFingerprint) return
    this.#savedFingerprint = fingerprint
    writeListingCache(fingerprint, this.#order).then(
      () => performance.mark(LISTING_SAVED_MARK),
      () => {
        this.#savedFingerprint = undefined
      },
    )
  }

  /** The page is being hidden or left: place pending changes and write the order now. */
  #saveBeforeLeaving(): void {
    if (this.#frame !== 0) {
      cancelAnimationFrame(this.#frame)
      this.#frame = 0
      this.#applyChanges()
      this.dispatchEvent(new Event('change'))
    }
    if (this.#dirty.size === 0) this.#save()
  }
}
