/**
 * The catalog's data model. One Yjs document holds the whole library (shared/ARCHITECTURE.md,
 * decision 1). Top-level types and what each key and value is:
 *
 *   meta       Y.Map   'libraryId' -> string, 'createdAt' -> ms, 'schema' -> number
 *   tracks     Y.Map   trackId -> TrackRecord as a JSON string (record-codec.ts), written by the
 *                      device that scanned the file; never deleted and re-added on rescans
 *   locations  Y.Map   `${trackId}/${deviceId}` -> JSON array of absolute paths on that device
 *   covers     Y.Map   coverId -> CoverRecord as JSON (the image bytes are a blob; coverId is their
 *                      content ID)
 *   devices    Y.Map   deviceId -> DeviceRecord (each device writes its own record; pairing adds one)
 *   revocations Y.Map  deviceId -> { at, by }: devices removed from the library. Kept apart from
 *                      `devices` because a device rewrites its own record, and a concurrent rewrite
 *                      would win over a `revoked` flag in it about half the time.
 *
 * User edits (title fixes, ratings, favourites, play counts, playlists) live in their own small maps
 * so that edits to different fields merge; see user-data.ts.
 */

export const SCHEMA_VERSION = 1

export type MediaType = 'audio' | 'video'

export interface MusicBrainzIds {
  trackId?: string
  recordingId?: string
  albumId?: string
  artistIds?: string[]
  albumArtistIds?: string[]
  releaseGroupId?: string
}

export interface ReplayGain {
  trackGainDb?: number
  trackPeak?: number
  albumGainDb?: number
  albumPeak?: number
}

/** Where the descriptive fields came from: the file's tags, its path, or both. */
export type TagSource = 'tags' | 'path' | 'mixed'

export interface TrackRecord {
  /** Content ID (src/blobs) of the file's bytes, and its size. */
  contentId: string
  size: number
  mediaType: MediaType
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
  bitrate: number | null
  sampleRate: number | null
  channels: number | null
  bitsPerSample: number | null
  lossless: boolean
  width: number | null
  height: number | null
  musicbrainz: MusicBrainzIds
  replayGain: ReplayGain
  lyrics: string | null
  cover: string | null
  tagSource: TagSource
  /** When the track first entered the library (ms since epoch). */
  addedAt: number
}

export interface CoverRecord {
  mime: string
  size: number
  /** 'embedded' when read from a file's tags, 'folder' for cover.jpg and friends. */
  source: 'embedded' | 'folder'
}

export interface DeviceRecord {
  name: string
  addedAt: number
  /** Last known multiaddrs, so that other devices can redial it. */
  addresses?: string[]
  lastSeen?: number
  revoked?: boolean
}

export interface Location {
  device: string
  path: string
}

export function locationKey(trackId: string, deviceId: string): string {
  return `${trackId}/${deviceId}`
}

export function parseLocationKey(key: string): { trackId: string; deviceId: string } {
  const slash = key.indexOf('/')
  return { trackId: key.slice(0, slash), deviceId: key.slice(slash + 1) }
}
