import * as Y from 'yjs'
import {
  type CoverRecord,
  type DeviceRecord,
  deviceOfFolderKey,
  folderKey,
  type Location,
  parseFolderKey,
  SCHEMA_VERSION,
  splitPath,
  type TrackRecord,
} from './schema.ts'
import {
  decodeTrackEntry,
  encodeFolder,
  encodeTrackEntry,
  entryAddedAt,
  entryContentId,
  entryTrackId,
  type Folder,
  folderHeader,
  parseFolder,
  parseFolderHeader,
  type TrackEntry,
} from './track-codec.ts'
import { TrackIndex } from './track-index.ts'

/** One folder's files being changed: file name -> whole entry. */
type FolderEntries = Record<string, TrackEntry>

/** Parsed folder values kept for lookups of single tracks; a full listing does not go through it. */
const PARSED_FOLDERS = 512

/** The catalog was written by a version whose layout this one does not read. */
export class CatalogSchemaError extends Error {
  override name = 'CatalogSchemaError'
}

/**
 * Typed reads and writes over the catalog document (layout: schema.ts). Besides the document it
 * holds only derived data (an index of which folders hold which track, a few parsed folders), so
 * several Catalog objects over one doc agree, and every write is a Yjs change that replicates.
 *
 * Writes made inside `transact` are gathered per folder and written once at its end: a scan adds
 * many files to one folder, and every rewrite of a map value would leave a deleted item behind.
 */
export class Catalog {
  readonly doc: Y.Doc
  readonly meta: Y.Map<unknown>
  /** `${deviceId}:${folder}` -> JSON of { fileName: TrackEntry }. */
  readonly files: Y.Map<string>
  /** coverId -> CoverRecord as JSON. */
  readonly covers: Y.Map<string>
  readonly devices: Y.Map<DeviceRecord>
  readonly #index = new TrackIndex()
  #indexed = false
  /** The value each folder key had when it was indexed (the strings the map holds, not copies). */
  readonly #indexedJson = new Map<string, string>()
  readonly #parsed = new Map<string, { json: string; folder: Folder }>()
  /** Folders changed in the running transaction, written when it ends. */
  readonly #staged = new Map<string, FolderEntries>()
  #depth = 0

  constructor(doc: Y.Doc = new Y.Doc()) {
    this.doc = doc
    this.meta = doc.getMap('meta')
    this.files = doc.getMap('files')
    this.covers = doc.getMap('covers')
    this.devices = doc.getMap('devices')
    // Changes from other devices (and from our own flushes, which are skipped as already indexed).
    this.files.observe((event) => {
      if (!this.#indexed) return
      for (const key of event.keysChanged) this.#reindexStored(key)
    })
  }

  /** Runs `fn` as one Yjs transaction: one update, one write to disk, one message to peers. */
  transact<T>(fn: () => T, origin?: unknown): T {
    let result: T | undefined
    this.doc.transact(() => {
      this.#depth++
      try {
        result = fn()
      } finally {
        this.#depth--
        if (this.#depth === 0) this.#flush()
      }
    }, origin)
    return result as T
  }

  get libraryId(): string | undefined {
    return this.meta.get('libraryId') as string | undefined
  }

  get schemaVersion(): number | undefined {
    return this.meta.get('schema') as number | undefined
  }

  /** Gives a new library its id. A library joined from another device takes that device's id instead. */
  initLibrary(libraryId: string): void {
    if (this.libraryId !== undefined) return
    this.transact(() => {
      this.meta.set('libraryId', libraryId)
      this.meta.set('createdAt', Date.now())
      this.meta.set('schema', SCHEMA_VERSION)
    })
  }

  /** Throws CatalogSchemaError when the document was written in a layout this version cannot read. */
  checkSchema(): void {
    const version = this.schemaVersion
    if (version !== undefined && version !== SCHEMA_VERSION)
      throw new CatalogSchemaError(
        `this catalog uses layout ${version}, and this version of cloudless reads layout ${SCHEMA_VERSION}`,
      )
  }

  // ---------------------------------------------------------------------------------------------
  // Files and tracks
  // ---------------------------------------------------------------------------------------------

  /**
   * Records that `deviceId` holds the file at `filePath`, with the track record it read from it.
   * Writing the same again changes nothing.
   */
  putFile(deviceId: string, filePath: string, trackId: string, record: TrackRecord): void {
    const { folder, name } = splitPath(filePath)
    const key = folderKey(deviceId, folder)
    this.transact(() => {
      const entries = this.#stage(key)
      entries[name] = encodeTrackEntry(trackId, record)
      this.#index.setFolder(key, folderHeader(entries))
    })
  }

  /** Forgets the file at `filePath` on `deviceId`. Its track stays while another file holds it. */
  removeFile(deviceId: string, filePath: string): void {
    const { folder, name } = splitPath(filePath)
    const key = folderKey(deviceId, folder)
    if (this.#folderOf(key)?.files[name] === undefined) return
    this.transact(() => {
      const entries = this.#stage(key)
      delete entries[name]
      this.#index.setFolder(key, folderHeader(entries))
    })
  }

  /** The track record; with several files, the one of the file that has been in the library longest. */
  getTrack(trackId: string): TrackRecord | undefined {
    const found = this.#primaryEntry(trackId)
    return found === undefined ? undefined : decodeTrackEntry(found.entry, found.shared)
  }

  hasTrack(trackId: string): boolean {
    this.#ensureIndex()
    return this.#index.has(trackId)
  }

  get trackCount(): number {
    this.#ensureIndex()
    return this.#index.trackCount
  }

  trackIds(): IterableIterator<string> {
    this.#ensureIndex()
    return this.#index.trackIds()
  }

  /** Every track and its record, one folder value parsed at a time. */
  *trackEntries(): IterableIterator<[string, TrackRecord]> {
    for (const [id, record] of this.tracksWithLocations()) yield [id, record]
  }

  /**
   * Every track with its record and its locations, in one pass over the folders (a listing needs
   * both; two passes would parse the whole catalog twice).
   */
  *tracksWithLocations(): IterableIterator<[string, TrackRecord, Location[]]> {
    this.#ensureIndex()
    // Tracks with several files: record and locations are complete once all files have been seen.
    const several = new Map<string, { best: FileRef; locations: Location[] }>()
    for (const key of [...this.#index.folderKeys()]) {
      const folder = this.#folderOf(key, false)
      if (folder === undefined) continue
      const { shared, files } = folder
      const { deviceId, folder: path } = parseFolderKey(key)
      for (const name in files) {
        const entry = files[name]!
        const id = entryTrackId(entry, shared)
        const location = { device: deviceId, path: path + name }
        if (this.#index.fileCount(id) === 1) {
          yield [id, decodeTrackEntry(entry, shared), [location]]
          continue
        }
        const ref = { entry, shared, key }
        const seen = several.get(id)
        if (seen === undefined) several.set(id, { best: ref, locations: [location] })
        else {
          seen.locations.push(location)
          if (precedes(ref, seen.best)) seen.best = ref
        }
      }
    }
    for (const [id, { best, locations }] of several)
      yield [id, decodeTrackEntry(best.entry, best.shared), locations.sort(compareLocations)]
  }

  /** Track ids holding this content (usually the content id itself). */
  tracksOfContent(contentId: string): string[] {
    this.#ensureIndex()
    return this.#index.tracksOfContent(contentId)
  }

  /** Locations of one track on every device. */
  locationsOf(trackId: string): Location[] {
    this.#ensureIndex()
    const out: Location[] = []
    for (const key of new Set(this.#index.holders(trackId))) {
      const { deviceId, folder } = parseFolderKey(key)
      const { shared, files } = this.#folderOf(key) ?? NO_FOLDER
      for (const name in files) {
        if (entryTrackId(files[name]!, shared) === trackId)
          out.push({ device: deviceId, path: folder + name })
      }
    }
    return out.length > 1 ? out.sort(compareLocations) : out
  }

  /** Devices holding a file of the track, each once, without reading their folders. */
  devicesHolding(trackId: string): string[] {
    this.#ensureIndex()
    const out: string[] = []
    for (const key of this.#index.holders(trackId)) {
      const device = deviceOfFolderKey(key)
      if (!out.includes(device)) out.push(device)
    }
    return out
  }

  /** Paths at which `deviceId` holds the track. */
  pathsOn(trackId: string, deviceId: string): string[] {
    return this.locationsOf(trackId)
      .filter((l) => l.device === deviceId)
      .map((l) => l.path)
  }

  /** Every location of every track, grouped by track, in one pass over the folders. */
  locationIndex(): Map<string, Location[]> {
    this.#ensureIndex()
    const index = new Map<string, Location[]>()
    for (const key of [...this.#index.folderKeys()]) {
      const { deviceId, folder } = parseFolderKey(key)
      const { shared, files } = this.#folderOf(key, false) ?? NO_FOLDER
      for (const name in files) {
        const id = entryTrackId(files[name]!, shared)
        const location = { device: deviceId, path: folder + name }
        const list = index.get(id)
        if (list === undefined) index.set(id, [location])
        else list.push(location)
      }
    }
    for (const list of index.values()) if (list.length > 1) list.sort(compareLocations)
    return index
  }

  /** Files that hold the track, on every device. */
  fileCount(trackId: string): number {
    this.#ensureIndex()
    return this.#index.fileCount(trackId)
  }

  /** How many files `deviceId` holds, how many distinct tracks they are, and their size (no parsing). */
  holdingsOf(deviceId: string): { files: number; tracks: number; bytes: number } {
    return this.holdings().get(deviceId) ?? { files: 0, tracks: 0, bytes: 0 }
  }

  /** Per device: the files it holds, the distinct tracks among them, and their total size. */
  holdings(): Map<string, { files: number; tracks: number; bytes: number }> {
    this.#ensureIndex()
    const perDevice = new Map<string, { files: number; tracks: Set<string>; bytes: number }>()
    for (const key of this.#index.folderKeys()) {
      const deviceId = key.slice(0, key.indexOf(':'))
      let held = perDevice.get(deviceId)
      if (held === undefined) {
        held = { files: 0, tracks: new Set(), bytes: 0 }
        perDevice.set(deviceId, held)
      }
      held.bytes += this.#index.bytesIn(key)
      for (const id of this.#index.tracksIn(key)) {
        held.files++
        held.tracks.add(id)
      }
    }
    const out = new Map<string, { files: number; tracks: number; bytes: number }>()
    for (const [deviceId, held] of perDevice)
      out.set(deviceId, { files: held.files, tracks: held.tracks.size, bytes: held.bytes })
    return out
  }

  /** contentId -> trackId for every file; build once per scan, not per file. */
  contentIndex(): Map<string, string> {
    this.#ensureIndex()
    const index = new Map<string, string>()
    for (const key of [...this.#index.folderKeys()]) {
      const { shared, files } = this.#folderOf(key, false) ?? NO_FOLDER
      for (const name in files) {
        const entry = files[name]!
        index.set(entryContentId(entry, shared), entryTrackId(entry, shared))
      }
    }
    return index
  }

  // ---------------------------------------------------------------------------------------------
  // Covers and devices
  // ---------------------------------------------------------------------------------------------

  getCover(coverId: string): CoverRecord | undefined {
    const json = this.covers.get(coverId)
    return json === undefined ? undefined : (JSON.parse(json) as CoverRecord)
  }

  putCover(coverId: string, record: CoverRecord): void {
    if (!this.covers.has(coverId)) this.covers.set(coverId, JSON.stringify(record))
  }

  putDevice(deviceId: string, record: DeviceRecord): void {
    const existing = this.devices.get(deviceId)
    if (existing !== undefined && sameJson(existing, record)) return
    this.devices.set(deviceId, record)
  }

  // ---------------------------------------------------------------------------------------------
  // Internals
  // ---------------------------------------------------------------------------------------------

  #ensureIndex(): void {
    if (this.#indexed) return
    this.#indexed = true
    for (const key of this.files.keys()) this.#reindexStored(key)
  }

  #reindexStored(key: string): void {
    if (this.#staged.has(key)) return // the staged entries are indexed; the flush writes them
    const json = this.files.get(key)
    if (json === this.#indexedJson.get(key)) return
    if (json === undefined) {
      this.#indexedJson.delete(key)
      this.#index.setFolder(key, undefined)
    } else {
      this.#indexedJson.set(key, json)
      this.#index.setFolder(key, parseFolderHeader(json))
    }
  }

  /** A folder's files: staged ones, or parsed from the map (cached when `cache`). */
  #folderOf(key: string, cache = true): Folder | undefined {
    const staged = this.#staged.get(key)
    if (staged !== undefined) return { shared: undefined, files: staged }
    const json = this.files.get(key)
    if (json === undefined) return undefined
    const hit = this.#parsed.get(key)
    if (hit !== undefined && hit.json === json) {
      // Refresh its place in the LRU order.
      this.#parsed.delete(key)
      this.#parsed.set(key, hit)
      return hit.folder
    }
    const folder = parseFolder(json)
    if (cache) {
      this.#parsed.set(key, { json, folder })
      if (this.#parsed.size > PARSED_FOLDERS) this.#parsed.delete(this.#parsed.keys().next().value!)
    }
    return folder
  }

  /** A mutable copy of the folder's entries, written at the end of the transaction. */
  #stage(key: string): FolderEntries {
    this.#ensureIndex()
    let entries = this.#staged.get(key)
    if (entries === undefined) {
      entries = {}
      const { shared, files } = this.#folderOf(key, false) ?? NO_FOLDER
      for (const name in files)
        entries[name] = shared === undefined ? files[name]! : { ...shared, ...files[name] }
      this.#staged.set(key, entries)
    }
    return entries
  }

  #flush(): void {
    for (const [key, entries] of this.#staged) {
      this.#staged.delete(key)
      if (Object.keys(entries).length === 0) {
        if (this.files.has(key)) this.files.delete(key)
        this.#indexedJson.delete(key)
        continue
      }
      const json = encodeFolder(entries)
      this.#indexedJson.set(key, json)
      if (this.files.get(key) !== json) this.files.set(key, json)
    }
  }

  #primaryEntry(trackId: string): FileRef | undefined {
    this.#ensureIndex()
    let best: FileRef | undefined
    for (const key of new Set(this.#index.holders(trackId))) {
      const { shared, files } = this.#folderOf(key) ?? NO_FOLDER
      for (const name in files) {
        const entry = files[name]!
        if (entryTrackId(entry, shared) !== trackId) continue
        const ref = { entry, shared, key }
        if (best === undefined || precedes(ref, best)) best = ref
      }
    }
    return best
  }
}

const NO_FOLDER: Folder = { shared: undefined, files: {} }

/** One file's entry, where it was found. */
interface FileRef {
  entry: TrackEntry
  shared: TrackEntry | undefined
  key: string
}

/** Which of two files' records stands for their track: the older one, then the smaller folder key. */
function precedes(a: FileRef, b: FileRef): boolean {
  const byAge = entryAddedAt(a.entry, a.shared) - entryAddedAt(b.entry, b.shared)
  return byAge < 0 || (byAge === 0 && a.key < b.key)
}

/** Locations in a stable order on every device: by device, then path. */
function compareLocations(a: Location, b: Location): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
