import * as Y from 'yjs'
import { Catalog } from './catalog.ts'
import { ParseCache } from './parse-cache.ts'
import type { TrackRecord } from './schema.ts'

/**
 * What the user makes of the library, in the same document as the catalog (shared/ARCHITECTURE.md,
 * decision 1). Each kind of state has its own small top-level map, shaped so that concurrent changes
 * on two devices merge the way a person expects:
 *
 *   edits       Y.Map   `${trackId}\u001f${field}` -> JSON of the value: one entry per overridden field,
 *                       so edits of different fields of a track both survive and the same field is last
 *                       writer wins. The scanner rewrites `tracks`, never `edits`: overrides survive rescans.
 *   ratings     Y.Map   trackId -> 1..5 (no entry: not rated)
 *   favourites  Y.Map   trackId -> ms when favourited (no entry: not a favourite)
 *   plays       Y.Map   `${trackId}/${deviceId}` -> plays on that device. A G-counter: a device only ever
 *                       increments its own key, so offline plays on two devices add up.
 *   playlists   Y.Map   playlistId -> Y.Map { name, createdAt, updatedAt, items: Y.Array<trackId> }:
 *                       concurrent inserts into one playlist keep both.
 *
 * Values come from other devices, so reads check them and skip what does not fit. Writes leave the
 * document alone when the value is already there (yjs#741: every overwrite leaves a deleted entry).
 */

export const EDITABLE_FIELDS = [
  'title',
  'artists',
  'album',
  'albumArtist',
  'trackNo',
  'discNo',
  'year',
  'genres',
  'compilation',
] as const

export type EditableField = (typeof EDITABLE_FIELDS)[number]

/** Overrides of a track's descriptive fields; a missing field keeps the scanned value. */
export type TrackEdits = Partial<Pick<TrackRecord, EditableField>>

export const MAX_RATING = 5

/** A value that does not fit the field or setting it is meant for. */
export class InvalidUserDataError extends Error {
  override name = 'InvalidUserDataError'
}

export class PlaylistNotFoundError extends Error {
  override name = 'PlaylistNotFoundError'
}

/** A position outside a playlist's items. */
export class PlaylistPositionError extends RangeError {
  override name = 'PlaylistPositionError'
}

export interface PlaylistRecord {
  id: string
  name: string
  createdAt: number
  updatedAt: number
  trackIds: string[]
}

const EDIT_KEY_SEPARATOR = '\u001f'

export function editKey(trackId: string, field: EditableField): string {
  return `${trackId}${EDIT_KEY_SEPARATOR}${field}`
}

export function playKey(trackId: string, deviceId: string): string {
  return `${trackId}/${deviceId}`
}

export function isEditableField(name: string): name is EditableField {
  return (EDITABLE_FIELDS as readonly string[]).includes(name)
}

/** Checks that `value` fits `field`; throws InvalidUserDataError with a message for the user if not. */
export function checkEditValue(field: EditableField, value: unknown): void {
  const problem = editValueProblem(field, value)
  if (problem !== undefined) throw new InvalidUserDataError(`${field}: ${problem}`)
}

function editValueProblem(field: EditableField, value: unknown): string | undefined {
  switch (field) {
    case 'title':
      return typeof value === 'string' && value.trim() !== '' ? undefined : 'needs a non-empty text'
    case 'album':
    case 'albumArtist':
      return value === null || typeof value === 'string' ? undefined : 'needs a text or null'
    case 'artists':
    case 'genres':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && v.trim() !== '')
        ? undefined
        : 'needs a list of non-empty texts'
    case 'trackNo':
    case 'discNo':
    case 'year':
      return value === null || (Number.isSafeInteger(value) && (value as number) > 0)
        ? undefined
        : 'needs a whole number above 0, or null'
    case 'compilation':
      return typeof value === 'boolean' ? undefined : 'needs true or false'
  }
}

/** `record` with `edits` applied; the record itself is not changed (records are shared with a cache). */
export function applyEdits(record: TrackRecord, edits: TrackEdits | undefined): TrackRecord {
  return edits === undefined ? record : { ...record, ...edits }
}

const parseEditValue = (json: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(json) }
  } catch {
    return { ok: false }
  }
}

const byDoc = new WeakMap<Y.Doc, UserData>()

/** Typed reads and writes of the user's state; like Catalog, it keeps nothing but caches besides the doc. */
export class UserData {
  readonly doc: Y.Doc
  /** `${trackId}\u001f${field}` -> JSON of the value. */
  readonly edits: Y.Map<string>
  readonly ratings: Y.Map<number>
  readonly favourites: Y.Map<number>
  readonly plays: Y.Map<number>
  readonly playlists: Y.Map<Y.Map<unknown>>
  readonly #editCache = new ParseCache(parseEditValue)

  constructor(source: Catalog | Y.Doc = new Y.Doc()) {
    this.doc = source instanceof Catalog ? source.doc : source
    this.edits = this.doc.getMap('edits')
    this.ratings = this.doc.getMap('ratings')
    this.favourites = this.doc.getMap('favourites')
    this.plays = this.doc.getMap('plays')
    this.playlists = this.doc.getMap('playlists')
  }

  /** One UserData per document, so that its parse cache lives as long as the document. */
  static of(source: Catalog | Y.Doc): UserData {
    const doc = source instanceof Catalog ? source.doc : source
    let data = byDoc.get(doc)
    if (data === undefined) {
      data = new UserData(doc)
      byDoc.set(doc, data)
    }
    return data
  }

  /** Runs `fn` as one Yjs transaction: one update, one write to disk, one message to peers. */
  transact<T>(fn: () => T, origin?: unknown): T {
    let result: T | undefined
    this.doc.transact(() => {
      result = fn()
    }, origin)
    return result as T
  }

  // --- edits -------------------------------------------------------------------------------------

  /** The overrides of one track (a lookup per field, no scan). */
  editsOf(trackId: string): TrackEdits {
    const edits: Record<string, unknown> = {}
    for (const field of EDITABLE_FIELDS) {
      const key = editKey(trackId, field)
      const json = this.edits.get(key)
      if (json === undefined) continue
      const value = this.#editValue(key, field, json)
      if (value !== undefined) edits[field] = value.value
    }
    return edits as TrackEdits
  }

  /** The overrides of every track, in one pass over `edits`. Values are shared: treat them as read-only. */
  editIndex(): Map<string, TrackEdits> {
    const index = new Map<string, TrackEdits>()
    for (const [key, json] of this.edits) {
      const cut = key.lastIndexOf(EDIT_KEY_SEPARATOR)
      const field = key.slice(cut + 1)
      if (cut < 0 || !isEditableField(field)) continue
      const value = this.#editValue(key, field, json)
      if (value === undefined) continue
      const trackId = key.slice(0, cut)
      let edits = index.get(trackId) as Record<string, unknown> | undefined
      if (edits === undefined) {
        edits = {}
        index.set(trackId, edits as TrackEdits)
      }
      edits[field] = value.value
    }
    return index
  }

  /** Sets overrides of several fields in one transaction; throws InvalidUserDataError before writing any. */
  setEdits(trackId: string, edits: TrackEdits): void {
    const entries = Object.entries(edits).filter(([, value]) => value !== undefined)
    for (const [field, value] of entries) {
      if (!isEditableField(field)) throw new InvalidUserDataError(`${field}: not a field that can be edited`)
      checkEditValue(field, value)
    }
    this.transact(() => {
      for (const [field, value] of entries) {
        const key = editKey(trackId, field as EditableField)
        const json = JSON.stringify(value)
        if (this.edits.get(key) !== json) this.edits.set(key, json)
      }
    })
  }

  setEdit<F extends EditableField>(trackId: string, field: F, value: TrackRecord[F]): void {
    this.setEdits(trackId, { [field]: value } as TrackEdits)
  }

  /** Drops the override of `field`: the scanned value shows again. */
  resetEdit(trackId: string, field: EditableField): void {
    this.edits.delete(editKey(trackId, field))
  }

  resetEdits(trackId: string): void {
    this.transact(() => {
      for (const field of EDITABLE_FIELDS) this.edits.delete(editKey(trackId, field))
    })
  }

  #editValue(key: string, field: EditableField, json: string): { value: unknown } | undefined {
    const parsed = this.#editCache.get(key, json)
    if (!parsed.ok || editValueProblem(field, parsed.value) !== undefined) return undefined
    return { value: parsed.value }
  }

  // --- ratings and favourites --------------------------------------------------------------------

  /** 1..5, or null when not rated. */
  rating(trackId: string): number | null {
    const value = this.ratings.get(trackId)
    return isRating(value) && value > 0 ? value : null
  }

  /** 1..5 rates the track, 0 removes its rating. */
  setRating(trackId: string, stars: number): void {
    if (!isRating(stars)) throw new InvalidUserDataError(`a rating is a whole number from 0 to ${MAX_RATING}`)
    if (stars === 0) this.ratings.delete(trackId)
    else if (this.ratings.get(trackId) !== stars) this.ratings.set(trackId, stars)
  }

  isFavourite(trackId: string): boolean {
    return this.favourites.has(trackId)
  }

  /** When the track became a favourite (ms), or null. */
  favouritedAt(trackId: string): number | null {
    const value = this.favourites.get(trackId)
    return typeof value === 'number' ? value : null
  }

  /** Marks or unmarks a favourite; marking one again keeps its first timestamp. */
  setFavourite(trackId: string, on: boolean, now: number = Date.now()): void {
    if (!on) this.favourites.delete(trackId)
    else if (!this.favourites.has(trackId)) this.favourites.set(trackId, now)
  }

  // --- plays -------------------------------------------------------------------------------------

  /** Counts a play on `deviceId`. Call it only with this device's own id: that is what makes it a G-counter. */
  recordPlay(trackId: string, deviceId: string, times = 1): void {
    if (!Number.isSafeInteger(times) || times < 1)
      throw new InvalidUserDataError('a play count grows by a whole number above 0')
    const key = playKey(trackId, deviceId)
    this.plays.set(key, playValue(this.plays.get(key)) + times)
  }

  /** Plays of one track on every device. Scans `plays`: for listings use playCounts(). */
  playCount(trackId: string): number {
    const prefix = `${trackId}/`
    let total = 0
    for (const [key, value] of this.plays) if (key.startsWith(prefix)) total += playValue(value)
    return total
  }

  /** trackId -> plays on every device, in one pass over `plays`. */
  playCounts(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const [key, value] of this.plays) {
      const trackId = key.slice(0, key.indexOf('/'))
      counts.set(trackId, (counts.get(trackId) ?? 0) + playValue(value))
    }
    return counts
  }

  // --- playlists ---------------------------------------------------------------------------------

  /** Creates an empty playlist and returns its id (16 random hex digits, so two devices never collide). */
  createPlaylist(name: string, now: number = Date.now()): string {
    checkPlaylistName(name)
    const id = randomPlaylistId()
    this.transact(() => {
      const playlist = new Y.Map<unknown>()
      this.playlists.set(id, playlist)
      playlist.set('name', name)
      playlist.set('createdAt', now)
      playlist.set('updatedAt', now)
      playlist.set('items', new Y.Array<string>())
    })
    return id
  }

  hasPlaylist(id: string): boolean {
    return this.playlists.get(id) instanceof Y.Map
  }

  playlist(id: string): PlaylistRecord | undefined {
    const map = this.playlists.get(id)
    return map instanceof Y.Map ? playlistRecord(id, map) : undefined
  }

  /** Every playlist, in no particular order. */
  playlistRecords(): PlaylistRecord[] {
    const out: PlaylistRecord[] = []
    for (const [id, map] of this.playlists) if (map instanceof Y.Map) out.push(playlistRecord(id, map))
    return out
  }

  renamePlaylist(id: string, name: string, now: number = Date.now()): void {
    checkPlaylistName(name)
    const map = this.#playlistMap(id)
    if (map.get('name') === name) return
    this.transact(() => {
      map.set('name', name)
      map.set('updatedAt', now)
    })
  }

  deletePlaylist(id: string): void {
    this.#playlistMap(id)
    this.playlists.delete(id)
  }

  /** Inserts tracks at `index` (0-based; default: at the end). */
  addToPlaylist(id: string, trackIds: string[], index?: number, now: number = Date.now()): void {
    const map = this.#playlistMap(id)
    const items = playlistItems(map)
    const at = index ?? items.length
    checkIndex(at, items.length + 1)
    if (trackIds.length === 0) return
    this.transact(() => {
      items.insert(at, trackIds)
      map.set('updatedAt', now)
    })
  }

  /** Removes the items at `indexes` (0-based, as they are before the removal); returns how many. */
  removeFromPlaylist(id: string, indexes: number[], now: number = Date.now()): number {
    const map = this.#playlistMap(id)
    const items = playlistItems(map)
    for (const index of indexes) checkIndex(index, items.length)
    const unique = [...new Set(indexes)].sort((a, b) => b - a)
    if (unique.length === 0) return 0
    this.transact(() => {
      // Highest first, so that the indexes still to delete do not shift.
      for (const index of unique) items.delete(index, 1)
      map.set('updatedAt', now)
    })
    return unique.length
  }

  /** Removes every occurrence of the tracks; returns how many items went. */
  removeTracksFromPlaylist(id: string, trackIds: string[], now: number = Date.now()): number {
    const drop = new Set(trackIds)
    const items = playlistItems(this.#playlistMap(id)).toArray()
    const indexes = items.flatMap((trackId, index) => (drop.has(trackId) ? [index] : []))
    return this.removeFromPlaylist(id, indexes, now)
  }

  /**
   * Moves the item at `from` so that it ends up at `to` (both 0-based): a delete and an insert of that
   * one item. Two devices moving the same item at once keep both inserts (it then shows twice).
   */
  movePlaylistItem(id: string, from: number, to: number, now: number = Date.now()): void {
    const map = this.#playlistMap(id)
    const items = playlistItems(map)
    checkIndex(from, items.length)
    checkIndex(to, items.length)
    if (from === to) return
    const trackId = items.get(from)
    this.transact(() => {
      items.delete(from, 1)
      items.insert(to, [trackId])
      map.set('updatedAt', now)
    })
  }

  #playlistMap(id: string): Y.Map<unknown> {
    const map = this.playlists.get(id)
    if (!(map instanceof Y.Map)) throw new PlaylistNotFoundError(`no playlist with id ${id}`)
    return map
  }
}

function isRating(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_RATING
}

function playValue(value: unknown): number {
  return Number.isSafeInteger(value) && (value as number) > 0 ? (value as number) : 0
}

function checkPlaylistName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '')
    throw new InvalidUserDataError('a playlist needs a non-empty name')
}

function checkIndex(index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length)
    throw new PlaylistPositionError(`position ${index} is outside 0..${length - 1}`)
}

function randomPlaylistId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function playlistItems(map: Y.Map<unknown>): Y.Array<string> {
  const items = map.get('items')
  if (items instanceof Y.Array) return items as Y.Array<string>
  // Only a broken peer leaves a playlist without items; give it an array rather than failing forever.
  const fresh = new Y.Array<string>()
  map.set('items', fresh)
  return fresh
}

function playlistRecord(id: string, map: Y.Map<unknown>): PlaylistRecord {
  const name = map.get('name')
  const createdAt = map.get('createdAt')
  const updatedAt = map.get('updatedAt')
  const items = map.get('items')
  return {
    id,
    name: typeof name === 'string' ? name : '',
    createdAt: typeof createdAt === 'number' ? createdAt : 0,
    updatedAt: typeof updatedAt === 'number' ? updatedAt : 0,
    trackIds:
      items instanceof Y.Array ? items.toArray().filter((t): t is string => typeof t === 'string') : [],
  }
}
