import * as Y from 'yjs'
import { decodeTrack, encodeTrack, ParseCache } from './record-codec.ts'
import {
  type CoverRecord,
  type DeviceRecord,
  type Location,
  locationKey,
  parseLocationKey,
  SCHEMA_VERSION,
  type TrackRecord,
} from './schema.ts'

/**
 * Typed reads and writes over the catalog document. It holds no state of its own besides the
 * document, so several Catalog objects over one doc agree, and every write is a Yjs change that
 * replicates.
 */
export class Catalog {
  readonly doc: Y.Doc
  readonly meta: Y.Map<unknown>
  /** trackId -> TrackRecord as JSON (see record-codec.ts for why strings). */
  readonly tracks: Y.Map<string>
  /** `${trackId}/${deviceId}` -> JSON array of paths. */
  readonly locations: Y.Map<string>
  /** coverId -> CoverRecord as JSON. */
  readonly covers: Y.Map<string>
  readonly devices: Y.Map<DeviceRecord>
  readonly #trackCache = new ParseCache(decodeTrack)
  readonly #pathsCache = new ParseCache((json) => JSON.parse(json) as string[])

  constructor(doc: Y.Doc = new Y.Doc()) {
    this.doc = doc
    this.meta = doc.getMap('meta')
    this.tracks = doc.getMap('tracks')
    this.locations = doc.getMap('locations')
    this.covers = doc.getMap('covers')
    this.devices = doc.getMap('devices')
  }

  /** Runs `fn` as one Yjs transaction: one update, one write to disk, one message to peers. */
  transact<T>(fn: () => T, origin?: unknown): T {
    let result: T | undefined
    this.doc.transact(() => {
      result = fn()
    }, origin)
    return result as T
  }

  get libraryId(): string | undefined {
    return this.meta.get('libraryId') as string | undefined
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

  getTrack(trackId: string): TrackRecord | undefined {
    const json = this.tracks.get(trackId)
    return json === undefined ? undefined : this.#trackCache.get(trackId, json)
  }

  /** Every track record. Records are shared with a cache: treat them as read-only. */
  *trackEntries(): IterableIterator<[string, TrackRecord]> {
    for (const [id, json] of this.tracks) yield [id, this.#trackCache.get(id, json)]
  }

  /** Writes a track record unless an identical one is there (rescans must not churn the document). */
  putTrack(trackId: string, record: TrackRecord): void {
    const json = encodeTrack(record)
    if (this.tracks.get(trackId) === json) return
    this.tracks.set(trackId, json)
  }

  /** contentId -> trackId for every track; build once per scan, not per file. */
  contentIndex(): Map<string, string> {
    const index = new Map<string, string>()
    for (const [id, track] of this.trackEntries()) index.set(track.contentId, id)
    return index
  }

  getCover(coverId: string): CoverRecord | undefined {
    const json = this.covers.get(coverId)
    return json === undefined ? undefined : (JSON.parse(json) as CoverRecord)
  }

  putCover(coverId: string, record: CoverRecord): void {
    if (!this.covers.has(coverId)) this.covers.set(coverId, JSON.stringify(record))
  }

  /** Paths at which `deviceId` holds the track. */
  pathsOn(trackId: string, deviceId: string): string[] {
    const key = locationKey(trackId, deviceId)
    const json = this.locations.get(key)
    return json === undefined ? [] : this.#pathsCache.get(key, json)
  }

  addLocation(trackId: string, deviceId: string, path: string): void {
    const paths = this.pathsOn(trackId, deviceId)
    if (paths.includes(path)) return
    this.locations.set(locationKey(trackId, deviceId), JSON.stringify([...paths, path].sort()))
  }

  removeLocation(trackId: string, deviceId: string, path: string): void {
    const paths = this.pathsOn(trackId, deviceId)
    if (!paths.includes(path)) return
    const rest = paths.filter((p) => p !== path)
    if (rest.length === 0) this.locations.delete(locationKey(trackId, deviceId))
    else this.locations.set(locationKey(trackId, deviceId), JSON.stringify(rest))
  }

  /** Every location of every track, grouped by track, in one pass over the map. */
  locationIndex(): Map<string, Location[]> {
    const index = new Map<string, Location[]>()
    for (const [key, json] of this.locations) {
      const { trackId, deviceId } = parseLocationKey(key)
      const paths = this.#pathsCache.get(key, json)
      let list = index.get(trackId)
      if (list === undefined) {
        list = []
        index.set(trackId, list)
      }
      for (const path of paths) list.push({ device: deviceId, path })
    }
    return index
  }

  /** Locations of one track: one lookup per device of the library, not a pass over all locations. */
  locationsOf(trackId: string): Location[] {
    const out: Location[] = []
    for (const deviceId of this.devices.keys()) {
      for (const path of this.pathsOn(trackId, deviceId)) out.push({ device: deviceId, path })
    }
    return out
  }

  putDevice(deviceId: string, record: DeviceRecord): void {
    const existing = this.devices.get(deviceId)
    if (existing !== undefined && sameJson(existing, record)) return
    this.devices.set(deviceId, record)
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
