import type { Catalog } from './catalog.ts'
import type { Location, MediaType, TrackRecord } from './schema.ts'

/**
 * Read-side views computed from the catalog. Albums and artists are derived from tracks rather
 * than stored, so two devices scanning the same album cannot create conflicting album entries.
 */

export interface TrackView {
  id: string
  title: string
  artists: string[]
  album: string | null
  albumArtist: string | null
  trackNo: number | null
  trackTotal: number | null
  discNo: number | null
  discTotal: number | null
  year: number | null
  genres: string[]
  compilation: boolean
  durationSec: number | null
  codec: string | null
  container: string | null
  mime: string | null
  mediaType: MediaType
  lossless: boolean
  bitrate: number | null
  sampleRate: number | null
  channels: number | null
  size: number
  contentId: string
  cover: string | null
  tagSource: TrackRecord['tagSource']
  locations: Location[]
}

export function trackView(id: string, record: TrackRecord, locations: Location[]): TrackView {
  return {
    id,
    title: record.title,
    artists: record.artists,
    album: record.album,
    albumArtist: record.albumArtist,
    trackNo: record.trackNo,
    trackTotal: record.trackTotal,
    discNo: record.discNo,
    discTotal: record.discTotal,
    year: record.year,
    genres: record.genres,
    compilation: record.compilation,
    durationSec: record.durationSec,
    codec: record.codec,
    container: record.container,
    mime: record.mime,
    mediaType: record.mediaType,
    lossless: record.lossless,
    bitrate: record.bitrate,
    sampleRate: record.sampleRate,
    channels: record.channels,
    size: record.size,
    contentId: record.contentId,
    cover: record.cover,
    tagSource: record.tagSource,
    locations,
  }
}

export interface ListTracksOptions {
  /** Include tracks that no device holds any more (their files were deleted). */
  includeMissing?: boolean
  mediaType?: MediaType
}

/** Every track, sorted for display: album artist, album, disc, track number, title. */
export function listTracks(catalog: Catalog, options: ListTracksOptions = {}): TrackView[] {
  const locationIndex = catalog.locationIndex()
  const out: TrackView[] = []
  for (const [id, record] of catalog.trackEntries()) {
    const locations = locationIndex.get(id) ?? []
    if (locations.length === 0 && !options.includeMissing) continue
    if (options.mediaType !== undefined && record.mediaType !== options.mediaType) continue
    out.push(trackView(id, record, locations))
  }
  return out.sort(compareTracks)
}

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true })

export function compareTracks(a: TrackView, b: TrackView): number {
  return (
    collator.compare(a.albumArtist ?? a.artists[0] ?? '', b.albumArtist ?? b.artists[0] ?? '') ||
    collator.compare(a.album ?? '', b.album ?? '') ||
    (a.discNo ?? 0) - (b.discNo ?? 0) ||
    (a.trackNo ?? 0) - (b.trackNo ?? 0) ||
    collator.compare(a.title, b.title) ||
    a.id.localeCompare(b.id)
  )
}

export interface AlbumView {
  id: string
  title: string
  albumArtist: string
  year: number | null
  compilation: boolean
  cover: string | null
  trackIds: string[]
}

/** Albums grouped by (album artist, album title); the id is stable across devices. */
export function listAlbums(tracks: TrackView[]): AlbumView[] {
  const albums = new Map<string, AlbumView>()
  for (const track of tracks) {
    if (track.album === null || track.mediaType !== 'audio') continue
    const albumArtist =
      track.albumArtist ?? (track.compilation ? 'Various Artists' : (track.artists[0] ?? ''))
    const id = albumId(albumArtist, track.album)
    let album = albums.get(id)
    if (album === undefined) {
      album = {
        id,
        title: track.album,
        albumArtist,
        year: null,
        compilation: false,
        cover: null,
        trackIds: [],
      }
      albums.set(id, album)
    }
    album.trackIds.push(track.id)
    album.year ??= track.year
    album.cover ??= track.cover
    album.compilation ||= track.compilation
  }
  return [...albums.values()].sort(
    (a, b) => collator.compare(a.albumArtist, b.albumArtist) || collator.compare(a.title, b.title),
  )
}

export function albumId(albumArtist: string, title: string): string {
  const key = `${albumArtist.normalize('NFC').toLowerCase()}\u0000${title.normalize('NFC').toLowerCase()}`
  return stableHash(key)
}

/** A 64-bit FNV-1a hash as 16 hex digits: stable everywhere, no crypto needed (ids, not security). */
function stableHash(text: string): string {
  let hash = 0xcbf29ce484222325n
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte)
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn
  }
  return hash.toString(16).padStart(16, '0')
}

export interface ArtistView {
  name: string
  trackCount: number
  albumCount: number
}

export function listArtists(tracks: TrackView[]): ArtistView[] {
  const artists = new Map<string, { name: string; tracks: number; albums: Set<string> }>()
  for (const track of tracks) {
    for (const name of track.artists) {
      const key = name.normalize('NFC').toLowerCase()
      let artist = artists.get(key)
      if (artist === undefined) {
        artist = { name, tracks: 0, albums: new Set() }
        artists.set(key, artist)
      }
      artist.tracks++
      if (track.album !== null) artist.albums.add(track.album)
    }
  }
  return [...artists.values()]
    .map((a) => ({ name: a.name, trackCount: a.tracks, albumCount: a.albums.size }))
    .sort((a, b) => collator.compare(a.name, b.name))
}
