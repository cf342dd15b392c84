import * as Y from 'yjs'
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
  readonly tracks: Y.Map<TrackRecord>
  readonly locations: Y.Map<string[]>
  readonly covers: Y.Map<CoverRecord>
  readonly devices: Y.Map<DeviceRecord>

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
    return this.tracks.get(trackId)
  }

  /** Writes a track record unless an identical one is there (rescans must not churn the document). */
  putTrack(trackId: string, record: TrackRecord): void {
    const existing = this.tracks.get(trackId)
    if (existing !== undefined && sameJson(existing, record)) return
    this.tracks.set(trackId, record)
  }

  /** contentId -> trackId for every track; build once per scan, not per file. */
  contentIndex(): Map<string, string> {
    const index = new Map<string, string>()
    for (const [id, track] of this.tracks) index.set(track.contentId, id)
    return index
  }

  putCover(coverId: string, record: CoverRecord): void {
    if (!this.covers.has(coverId)) this.covers.set(coverId, record)
  }

  /** Paths at which `deviceId` holds the track. */
  pathsOn(trackId: string, deviceId: string): string[] {
    return this.locations.get(locationKey(trackId, deviceId)) ?? []
  }

  addLocation(trackId: string, deviceId: string, path: string): void {
    const paths = this.pathsOn(trackId, deviceId)
    if (paths.includes(path)) return
    this.locations.set(locationKey(trackId, deviceId), [...paths, path].sort())
  }

  removeLocation(trackId: string, deviceId: string, path: string): void {
    const paths = this.pathsOn(trackId, deviceId)
    if (!paths.includes(path)) return
    const rest = paths.filter((p) => p !== path)
    if (rest.length === 0) this.locations.delete(locationKey(trackId, deviceId))
    else this.locations.set(locationKey(trackId, deviceId), rest)
  }

  /** Every location of every track, grouped by track, in one pass over the map. */
  locationIndex(): Map<string, Location[]> {
    const index = new Map<string, Location[]>()
    for (const [key, paths] of this.locations) {
      const { trackId, deviceId } = parseLocationKey(key)
      let list = index.get(trackId)
      if (list === undefined) {
        list = []
        index.set(trackId, list)
      }
      for (const path of paths) list.push({ device: deviceId, path })
    }
    return index
  }

  locationsOf(trackId: string): Location[] {
    const out: Location[] = []
    for (const [key, paths] of this.locations) {
      const parsed = parseLocationKey(key)
      if (parsed.trackId === trackId) for (const path of paths) out.push({ device: parsed.deviceId, path })
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
