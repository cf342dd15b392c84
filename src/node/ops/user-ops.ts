import {
  type Catalog,
  checkEditValue,
  type EditableField,
  findTrack,
  InvalidUserDataError,
  isEditableField,
  listPlaylists,
  MAX_RATING,
  type PlaylistView,
  playlistView,
  type TrackEdits,
  type TrackView,
  UserData,
} from '../../crdt/index.ts'
import { defineOp, OpError } from './op.ts'

/**
 * Ops on what the user makes of the library: edits of track fields, ratings, favourites, playlists.
 * Track and playlist ids may be given as any unique prefix of at least MIN_PREFIX characters (like
 * git); a playlist also by its exact name. Positions in playlists count from 1, as listed.
 */

export const MIN_PREFIX = 4

// --- resolving ids -------------------------------------------------------------------------------

/** The one id among `ids` that equals or starts with `given`; OpError when none or several do. */
function resolvePrefix(
  given: string,
  ids: Iterable<string>,
  what: string,
  describe: (id: string) => string,
): string {
  const wanted = given.trim().toLowerCase()
  const all = [...ids]
  if (all.includes(wanted)) return wanted
  if (wanted.length < MIN_PREFIX)
    throw new OpError('bad-id', `'${given}': give at least ${MIN_PREFIX} characters of the ${what} id`)
  const matches = all.filter((id) => id.startsWith(wanted))
  if (matches.length === 1) return matches[0]!
  if (matches.length === 0) throw new OpError(`unknown-${what}`, `no ${what} id starts with '${given}'`)
  const shown = matches.slice(0, 10).map((id) => `  ${describe(id)}`)
  if (matches.length > shown.length) shown.push(`  ... and ${matches.length - shown.length} more`)
  throw new OpError(
    `ambiguous-${what}`,
    `'${given}' matches ${matches.length} ${what}s; give more characters:\n${shown.join('\n')}`,
  )
}

function describeTrack(catalog: Catalog, id: string): string {
  const track = findTrack(catalog, id)
  if (track === undefined) return id
  const artists = track.artists.join(', ')
  return `${id}  ${track.title}${artists === '' ? '' : ` - ${artists}`}`
}

/** The full id of a track of the catalog. */
export function resolveTrackId(catalog: Catalog, given: string): string {
  checkText(given, 'track')
  if (catalog.hasTrack(given)) return given
  return resolvePrefix(given, catalog.trackIds(), 'track', (id) => describeTrack(catalog, id))
}

/** The full id of a playlist given by id, id prefix or exact name (case-insensitive). */
export function resolvePlaylistId(catalog: Catalog, given: string): string {
  checkText(given, 'playlist')
  const user = UserData.of(catalog)
  if (user.hasPlaylist(given)) return given
  const records = user.playlistRecords()
  const named = records.filter((p) => p.name === given)
  const byName = named.length > 0 ? named : records.filter((p) => sameName(p.name, given))
  if (byName.length === 1) return byName[0]!.id
  if (byName.length > 1) {
    const shown = byName.map((p) => `  ${p.id}  ${p.name} (${p.trackIds.length} tracks)`)
    throw new OpError(
      'ambiguous-playlist',
      `${byName.length} playlists are called '${given}'; give the id:\n${shown.join('\n')}`,
    )
  }
  const names = new Map(records.map((p) => [p.id, p.name]))
  const wanted = given.trim().toLowerCase()
  if (wanted.length < MIN_PREFIX || ![...names.keys()].some((id) => id.startsWith(wanted)))
    throw new OpError(
      'unknown-playlist',
      `no playlist is called '${given}' or has an id starting with it (list them with: cloudless playlists)`,
    )
  return resolvePrefix(given, names.keys(), 'playlist', (id) => `${id}  ${names.get(id)}`)
}

function sameName(a: string, b: string): boolean {
  return a.trim().localeCompare(b.trim(), undefined, { sensitivity: 'accent' }) === 0
}

// --- edits, ratings, favourites ------------------------------------------------------------------

export interface EditArgs {
  /** Track id or unique prefix. */
  track: string
  /** New values of fields; see EDITABLE_FIELDS. */
  set?: TrackEdits
  /** Fields whose override goes, so that the scanned value shows again. */
  reset?: EditableField[]
  resetAll?: boolean
}

export const editOp = defineOp<EditArgs, TrackView>({
  name: 'edit',
  async run({ device }, args) {
    const catalog = device.catalog
    const trackId = resolveTrackId(catalog, args.track)
    const reset = checkList(args.reset ?? [], 'reset')
    for (const field of reset)
      if (!isEditableField(field))
        throw new OpError('bad-field', `'${field}' is not a field that can be edited`)
    const set = args.set ?? {}
    if (typeof set !== 'object' || set === null || Array.isArray(set))
      throw new OpError('bad-args', "'set' must be an object of field values")
    // Check every value before writing anything: a Yjs transaction cannot be rolled back.
    for (const [field, value] of Object.entries(set)) {
      if (!isEditableField(field))
        throw new OpError('bad-field', `'${field}' is not a field that can be edited`)
      if (value !== undefined) userInputErrors(() => checkEditValue(field, value))
    }
    const user = UserData.of(catalog)
    user.transact(() => {
      if (args.resetAll) user.resetEdits(trackId)
      for (const field of reset) user.resetEdit(trackId, field)
      user.setEdits(trackId, set)
    })
    return findTrack(catalog, trackId)!
  },
})

export const rateOp = defineOp<{ track: string; rating: number }, TrackView>({
  name: 'rate',
  async run({ device }, args) {
    const trackId = resolveTrackId(device.catalog, args.track)
    if (!Number.isInteger(args.rating) || args.rating < 0 || args.rating > MAX_RATING)
      throw new OpError('bad-rating', `a rating is a whole number from 0 (no rating) to ${MAX_RATING}`)
    UserData.of(device.catalog).setRating(trackId, args.rating)
    return findTrack(device.catalog, trackId)!
  },
})

export const favOp = defineOp<{ track: string; on?: boolean }, TrackView>({
  name: 'fav',
  async run({ device }, args) {
    const trackId = resolveTrackId(device.catalog, args.track)
    const user = UserData.of(device.catalog)
    // No `on`: toggle.
    user.setFavourite(trackId, args.on ?? !user.isFavourite(trackId))
    return findTrack(device.catalog, trackId)!
  },
})

// --- playlists -----------------------------------------------------------------------------------

export interface PlaylistItem {
  /** 1-based, as listed. */
  position: number
  trackId: string
  /** Null when the catalog does not hold the track (yet). */
  track: TrackView | null
}

export interface PlaylistDetail extends PlaylistView {
  items: PlaylistItem[]
}

export const playlistsOp = defineOp<Record<string, never>, PlaylistView[]>({
  name: 'playlists',
  async run({ device }) {
    return listPlaylists(device.catalog)
  },
})

export const playlistShowOp = defineOp<{ playlist: string }, PlaylistDetail>({
  name: 'playlist-show',
  async run({ device }, args) {
    const catalog = device.catalog
    const view = viewOf(catalog, resolvePlaylistId(catalog, args.playlist))
    const tracks = new Map<string, TrackView | undefined>()
    for (const id of view.trackIds) if (!tracks.has(id)) tracks.set(id, findTrack(catalog, id))
    const items = view.trackIds.map((trackId, i) => ({
      position: i + 1,
      trackId,
      track: tracks.get(trackId) ?? null,
    }))
    return { ...view, items }
  },
})

export const playlistCreateOp = defineOp<{ name: string }, PlaylistView>({
  name: 'playlist-create',
  async run({ device }, args) {
    const catalog = device.catalog
    const name = checkName(args.name)
    const user = UserData.of(catalog)
    const taken = user.playlistRecords().find((p) => sameName(p.name, name))
    if (taken !== undefined)
      throw new OpError('playlist-exists', `there is already a playlist called '${taken.name}' (${taken.id})`)
    return viewOf(catalog, user.createPlaylist(name))
  },
})

export const playlistRenameOp = defineOp<{ playlist: string; name: string }, PlaylistView>({
  name: 'playlist-rename',
  async run({ device }, args) {
    const catalog = device.catalog
    const id = resolvePlaylistId(catalog, args.playlist)
    const name = checkName(args.name)
    const user = UserData.of(catalog)
    const taken = user.playlistRecords().find((p) => p.id !== id && sameName(p.name, name))
    if (taken !== undefined)
      throw new OpError('playlist-exists', `there is already a playlist called '${taken.name}' (${taken.id})`)
    user.renamePlaylist(id, name)
    return viewOf(catalog, id)
  },
})

export const playlistDeleteOp = defineOp<{ playlist: string }, PlaylistView>({
  name: 'playlist-delete',
  async run({ device }, args) {
    const catalog = device.catalog
    const id = resolvePlaylistId(catalog, args.playlist)
    const view = viewOf(catalog, id)
    UserData.of(catalog).deletePlaylist(id)
    return view
  },
})

export interface PlaylistAddArgs {
  playlist: string
  /** Track ids or unique prefixes, added in this order. */
  tracks: string[]
  /** 1-based position the first added track takes; default: after the last item. */
  position?: number
}

export const playlistAddOp = defineOp<PlaylistAddArgs, PlaylistView>({
  name: 'playlist-add',
  async run({ device }, args) {
    const catalog = device.catalog
    const id = resolvePlaylistId(catalog, args.playlist)
    if (checkList(args.tracks, 'tracks').length === 0)
      throw new OpError('no-tracks', 'name at least one track to add')
    const trackIds = args.tracks.map((t) => resolveTrackId(catalog, t))
    const user = UserData.of(catalog)
    const length = user.playlist(id)!.trackIds.length
    let index: number | undefined
    if (args.position !== undefined) {
      checkPosition(args.position, length + 1)
      index = args.position - 1
    }
    user.addToPlaylist(id, trackIds, index)
    return viewOf(catalog, id)
  },
})

export interface PlaylistRemoveArgs {
  playlist: string
  /** 1-based positions, as listed (before the removal). */
  positions?: number[]
  /** Track ids or unique prefixes of tracks in the playlist: every occurrence goes. */
  tracks?: string[]
}

export const playlistRemoveOp = defineOp<PlaylistRemoveArgs, PlaylistView & { removed: number }>({
  name: 'playlist-remove',
  async run({ device }, args) {
    const catalog = device.catalog
    const id = resolvePlaylistId(catalog, args.playlist)
    const user = UserData.of(catalog)
    const items = user.playlist(id)!.trackIds
    const positions = checkList(args.positions ?? [], 'positions')
    const tracks = checkList(args.tracks ?? [], 'tracks')
    if (positions.length === 0 && tracks.length === 0)
      throw new OpError('no-items', 'name at least one track or position to remove')
    for (const position of positions) checkPosition(position, items.length)
    // Prefixes resolve against the playlist's own items: its tracks may be gone from the catalog.
    const inPlaylist = new Set(items)
    const drop = new Set(
      tracks.map((t) => resolvePrefix(t, inPlaylist, 'track', (trackId) => describeTrack(catalog, trackId))),
    )
    const indexes = new Set(positions.map((p) => p - 1))
    items.forEach((trackId, index) => {
      if (drop.has(trackId)) indexes.add(index)
    })
    const removed = user.removeFromPlaylist(id, [...indexes])
    return { ...viewOf(catalog, id), removed }
  },
})

export const playlistMoveOp = defineOp<{ playlist: string; from: number; to: number }, PlaylistView>({
  name: 'playlist-move',
  async run({ device }, args) {
    const catalog = device.catalog
    const id = resolvePlaylistId(catalog, args.playlist)
    const user = UserData.of(catalog)
    const length = user.playlist(id)!.trackIds.length
    checkPosition(args.from, length)
    checkPosition(args.to, length)
    user.movePlaylistItem(id, args.from - 1, args.to - 1)
    return viewOf(catalog, id)
  },
})

/** Every op of this file, for the ops registry. */
export const USER_OPS = [
  editOp,
  rateOp,
  favOp,
  playlistsOp,
  playlistShowOp,
  playlistCreateOp,
  playlistRenameOp,
  playlistDeleteOp,
  playlistAddOp,
  playlistRemoveOp,
  playlistMoveOp,
] as const

function viewOf(catalog: Catalog, playlistId: string): PlaylistView {
  return playlistView(catalog, UserData.of(catalog).playlist(playlistId)!)
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '')
    throw new OpError('bad-name', 'a playlist needs a non-empty name')
  return name.trim()
}

function checkText(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw new OpError('bad-args', `'${name}' must be a string`)
}

function checkList<T>(value: T[], name: string): T[] {
  if (!Array.isArray(value)) throw new OpError('bad-args', `'${name}' must be a list`)
  return value
}

function checkPosition(position: number, length: number): void {
  if (!Number.isInteger(position) || position < 1 || position > length) {
    const range = length === 0 ? 'the playlist is empty' : `positions go from 1 to ${length}`
    throw new OpError('bad-position', `no position ${position}: ${range}`)
  }
}

/** Runs a write, turning a value the user gave that does not fit into an OpError. */
function userInputErrors(fn: () => void): void {
  try {
    fn()
  } catch (error) {
    if (error instanceof InvalidUserDataError) throw new OpError('bad-value', error.message)
    throw error
  }
}
