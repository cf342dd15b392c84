import type { MusicBrainzIds, ReplayGain, TrackRecord } from './schema.ts'

/**
 * How one file's track record is stored inside a folder value (schema.ts): a JSON object with short
 * keys, and nothing for fields that are empty or at their default. The catalog of a 100k-track library
 * is mostly these objects, so every byte counts three times: in the state a new device downloads, on
 * disk, and in every device's memory. Measured on the synthetic 100k library of `npm run bench:sync`:
 * the long-key records of schema 1 averaged 706 bytes, these about half of that.
 *
 * The entry carries its track id under `i` only when it differs from the content id (a retagged file
 * keeps the id of the track it replaced).
 */
export type TrackEntry = Record<string, unknown>

const FIELD_KEYS = {
  contentId: 'c',
  size: 's',
  mediaType: 'k',
  title: 't',
  artists: 'a',
  album: 'al',
  albumArtist: 'aa',
  trackNo: 'n',
  trackTotal: 'nt',
  discNo: 'd',
  discTotal: 'dt',
  year: 'y',
  genres: 'g',
  compilation: 'cp',
  durationSec: 'du',
  codec: 'co',
  container: 'ct',
  mime: 'm',
  bitrate: 'br',
  sampleRate: 'sr',
  channels: 'ch',
  bitsPerSample: 'bp',
  lossless: 'll',
  width: 'w',
  height: 'h',
  lyrics: 'ly',
  cover: 'cv',
  tagSource: 'ts',
  addedAt: 'at',
} as const satisfies Record<Exclude<keyof TrackRecord, 'musicbrainz' | 'replayGain'>, string>

/** MusicBrainz ids and ReplayGain are stored flat, so that album-wide ones can be shared (below). */
const MUSICBRAINZ_KEYS = {
  trackId: 'mt',
  recordingId: 'mr',
  albumId: 'ma',
  artistIds: 'mar',
  albumArtistIds: 'maa',
  releaseGroupId: 'mg',
} as const satisfies Record<keyof MusicBrainzIds, string>

const REPLAY_GAIN_KEYS = {
  trackGainDb: 'rt',
  trackPeak: 'rtp',
  albumGainDb: 'ra',
  albumPeak: 'rap',
} as const satisfies Record<keyof ReplayGain, string>

/** The key of the track id, present only when it is not the content id. */
const TRACK_ID_KEY = 'i'

const TRACK_DEFAULTS: Omit<TrackRecord, 'contentId' | 'size' | 'title' | 'addedAt'> = {
  mediaType: 'audio',
  artists: [],
  album: null,
  albumArtist: null,
  trackNo: null,
  trackTotal: null,
  discNo: null,
  discTotal: null,
  year: null,
  genres: [],
  compilation: false,
  durationSec: null,
  codec: null,
  container: null,
  mime: null,
  bitrate: null,
  sampleRate: null,
  channels: null,
  bitsPerSample: null,
  lossless: false,
  width: null,
  height: null,
  musicbrainz: {},
  replayGain: {},
  lyrics: null,
  cover: null,
  tagSource: 'tags',
}

/** The fields of a track no tag filled (as for untagged audio), a fresh copy. */
export function trackDefaults(): Omit<TrackRecord, 'contentId' | 'size' | 'title' | 'addedAt'> {
  return structuredClone(TRACK_DEFAULTS)
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return true
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === 'object') return Object.keys(value).length === 0
  return false
}

function flatten(into: TrackEntry, value: object, names: Record<string, string>): void {
  for (const [key, short] of Object.entries(names)) {
    const field = (value as Record<string, unknown>)[key]
    if (!isEmpty(field)) into[short] = field
  }
}

export function encodeTrackEntry(trackId: string, record: TrackRecord): TrackEntry {
  const entry: TrackEntry = {}
  if (trackId !== record.contentId) entry[TRACK_ID_KEY] = trackId
  for (const [field, short] of Object.entries(FIELD_KEYS) as Array<[keyof TrackRecord, string]>) {
    const value: unknown = record[field]
    if (field === 'mediaType' && value === 'audio') continue
    if (field === 'tagSource' && value === 'tags') continue
    if (!isEmpty(value)) entry[short] = value
  }
  flatten(entry, record.musicbrainz, MUSICBRAINZ_KEYS)
  flatten(entry, record.replayGain, REPLAY_GAIN_KEYS)
  return entry
}

/**
 * A stored folder value, parsed: the fields its files share, and each file's own fields. Readers look
 * a field up in the file's entry, then in `shared`; nothing is copied (a 100k-track catalog is
 * parsed whole to index it, and filling in the shared fields would double that time).
 */
export interface Folder {
  shared: TrackEntry | undefined
  files: Record<string, TrackEntry>
}

function field(entry: TrackEntry, shared: TrackEntry | undefined, key: string): unknown {
  const own = entry[key]
  return own !== undefined || shared === undefined ? own : shared[key]
}

/** The track id of a stored entry. */
export function entryTrackId(entry: TrackEntry, shared?: TrackEntry): string {
  return (field(entry, shared, TRACK_ID_KEY) ?? field(entry, shared, FIELD_KEYS.contentId)) as string
}

export function entryContentId(entry: TrackEntry, shared?: TrackEntry): string {
  return field(entry, shared, FIELD_KEYS.contentId) as string
}

export function entrySize(entry: TrackEntry, shared?: TrackEntry): number {
  return (field(entry, shared, FIELD_KEYS.size) as number | undefined) ?? 0
}

/** When the entry's track entered the library (used to pick one record among several holders). */
export function entryAddedAt(entry: TrackEntry, shared?: TrackEntry): number {
  return (field(entry, shared, FIELD_KEYS.addedAt) as number | undefined) ?? 0
}

const FIELD_PAIRS = Object.entries(FIELD_KEYS)
const MUSICBRAINZ_PAIRS = Object.entries(MUSICBRAINZ_KEYS)
const REPLAY_GAIN_PAIRS = Object.entries(REPLAY_GAIN_KEYS)

export function decodeTrackEntry(entry: TrackEntry, shared?: TrackEntry): TrackRecord {
  const record: Record<string, unknown> = { ...TRACK_DEFAULTS }
  for (const [name, short] of FIELD_PAIRS) {
    const value = field(entry, shared, short)
    if (value !== undefined) record[name] = value
  }
  const musicbrainz: Record<string, unknown> = {}
  for (const [name, short] of MUSICBRAINZ_PAIRS) {
    const value = field(entry, shared, short)
    if (value !== undefined) musicbrainz[name] = value
  }
  const replayGain: Record<string, unknown> = {}
  for (const [name, short] of REPLAY_GAIN_PAIRS) {
    const value = field(entry, shared, short)
    if (value !== undefined) replayGain[name] = value
  }
  record.musicbrainz = musicbrainz
  record.replayGain = replayGain
  return record as unknown as TrackRecord
}

/** The key, in a folder value's body, of the fields that all of its files share. File names are never empty. */
const SHARED_KEY = ''

/**
 * A folder value is two lines of JSON. The first is a flat array with four items per file, in name
 * order: name, track id, content id ('' when it is the track id), size. That is all the catalog's
 * index needs, and parsing it alone is several times cheaper than parsing the records (a device that
 * receives or loads a big catalog indexes all of it). The second line holds the rest of each record,
 * by file name, with the fields every file shares (album, album artist, year, codec, cover, album-wide
 * MusicBrainz ids…) stored once under the key ''.
 */
export type FolderHeader = readonly unknown[]
export const HEADER_STRIDE = 4
const IDENTITY_KEYS = new Set([TRACK_ID_KEY, FIELD_KEYS.contentId, FIELD_KEYS.size])

/** The header of a folder's entries (see above). */
export function folderHeader(entries: Record<string, TrackEntry>): unknown[] {
  const header: unknown[] = []
  for (const name of Object.keys(entries).sort()) {
    const entry = entries[name]!
    const trackId = entryTrackId(entry)
    const contentId = entryContentId(entry)
    header.push(name, trackId, contentId === trackId ? '' : contentId, entrySize(entry))
  }
  return header
}

export function encodeFolder(entries: Record<string, TrackEntry>): string {
  const names = Object.keys(entries).sort()
  const shared: TrackEntry = {}
  if (names.length > 1) {
    const first = entries[names[0]!]!
    for (const [key, value] of Object.entries(first)) {
      if (IDENTITY_KEYS.has(key)) continue
      const json = JSON.stringify(value)
      if (names.every((name) => JSON.stringify(entries[name]![key]) === json)) shared[key] = value
    }
  }
  const body: Record<string, TrackEntry> = {}
  if (Object.keys(shared).length > 0) body[SHARED_KEY] = shared
  for (const name of names) {
    const entry: TrackEntry = {}
    for (const [key, value] of Object.entries(entries[name]!))
      if (!IDENTITY_KEYS.has(key) && !(key in shared)) entry[key] = value
    body[name] = entry
  }
  return `${JSON.stringify(folderHeader(entries))}\n${JSON.stringify(body)}`
}

/** The first line of a folder value, parsed. */
export function parseFolderHeader(json: string): FolderHeader {
  const cut = json.indexOf('\n')
  return JSON.parse(cut < 0 ? json : json.slice(0, cut)) as unknown[]
}

export function parseFolder(json: string): Folder {
  const cut = json.indexOf('\n')
  const header = JSON.parse(json.slice(0, cut)) as unknown[]
  const files = JSON.parse(json.slice(cut + 1)) as Record<string, TrackEntry>
  const shared = files[SHARED_KEY]
  if (shared !== undefined) delete files[SHARED_KEY]
  for (let at = 0; at < header.length; at += HEADER_STRIDE) {
    const entry = files[header[at] as string]
    if (entry === undefined) continue
    const trackId = header[at + 1] as string
    const contentId = header[at + 2] as string
    if (contentId === '') entry[FIELD_KEYS.contentId] = trackId
    else {
      entry[FIELD_KEYS.contentId] = contentId
      entry[TRACK_ID_KEY] = trackId
    }
    entry[FIELD_KEYS.size] = header[at + 3]
  }
  return { shared, files }
}

/** The entries of a folder value, each whole again. */
export function decodeFolder(json: string): Record<string, TrackEntry> {
  const { shared, files } = parseFolder(json)
  if (shared === undefined) return files
  const out: Record<string, TrackEntry> = {}
  for (const name in files) out[name] = { ...shared, ...files[name] }
  return out
}
