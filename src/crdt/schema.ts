/**
 * The catalog's data model. One Yjs document holds the whole library (shared/ARCHITECTURE.md,
 * decision 1). Top-level types and what each key and value is:
 *
 *   meta       Y.Map   'libraryId' -> string, 'createdAt' -> ms, 'schema' -> number
 *   files      Y.Map   `${deviceId}:${folder}` -> JSON object { fileName: TrackEntry } (track-codec.ts):
 *                      the media files one device holds in one folder, each with the track record
 *                      that device read from it. Only that device writes its keys, so concurrent
 *                      writers never overwrite each other. A track is every entry with its id, on any
 *                      device; its record is the one of the holder that has had it longest.
 *                      One value per folder, not per file: a Yjs map entry costs ~450 bytes of memory
 *                      on its own, and a 100k-track library has about a tenth as many folders.
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

/** 1: `tracks` and `locations` maps, one entry per track and per location (replaced in schema 2). */
export const SCHEMA_VERSION = 2

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

/** The `files` key of one device's folder. Device ids (libp2p peer ids) hold no ':'. */
export function folderKey(deviceId: string, folder: string): string {
  return `${deviceId}:${folder}`
}

/** The device part of a folder key alone (parseFolderKey without the folder). */
export function deviceOfFolderKey(key: string): string {
  return key.slice(0, key.indexOf(':'))
}

export function parseFolderKey(key: string): { deviceId: string; folder: string } {
  const colon = key.indexOf(':')
  return { deviceId: key.slice(0, colon), folder: key.slice(colon + 1) }
}

/**
 * Splits an absolute path into its folder, with the trailing separator ('/' or '\\'), and its file
 * name, so that `folder + name` gives the path back exactly.
 */
export function splitPath(filePath: string): { folder: string; name: string } {
  const cut = Math.max(filePath.lastIndexOf('/'), filePath.lastIndexOf('\\')) + 1
  return { folder: filePath.slice(0, cut), name: filePath.slice(cut) }
}
