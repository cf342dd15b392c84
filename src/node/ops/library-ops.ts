import path from 'node:path'
import { findTrack, librarySummary, listTracks, type MediaType, type TrackView } from '../../crdt/index.ts'
import type { CloudlessNode } from '../daemon/node.ts'
import type { ScanReport } from '../scanner/scanner.ts'
import { type NetworkStatus, networkStatus } from './network-ops.ts'
import { defineOp } from './op.ts'

export const scanOp = defineOp<{ roots: string[] }, ScanReport>({
  name: 'scan',
  async run({ device, signal }, { roots: given }) {
    const resolved = given.map((r) => path.resolve(r))
    const roots = [...new Set([...device.config.roots, ...resolved])]
    if (resolved.some((r) => !device.config.roots.includes(r)))
      await device.saveConfig({ ...device.config, roots })
    // Loaded here: the scanner brings music-metadata, which status, tracks and the rest never need.
    const { scan } = await import('../scanner/scanner.ts')
    return scan(device, roots, { signal })
  },
})

export const tracksOp = defineOp<{ mediaType?: MediaType }, TrackView[]>({
  name: 'tracks',
  async run({ device }, args) {
    return listTracks(device.catalog, args)
  },
})

export interface StatusResult {
  device: { id: string; name: string }
  home: string
  libraryId: string | null
  roots: string[]
  devices: number
  tracks: number
  videos: number
  albums: number
  artists: number
  covers: number
  onThisDevice: { tracks: number; bytes: number }
  /** Relays and how each other device is reached; null when the node does not run. */
  network: NetworkStatus | null
}

export const statusOp = defineOp<Record<string, never>, StatusResult>({
  name: 'status',
  async run({ device, node, signal }) {
    const summary = librarySummary(device.catalog)
    const here = device.catalog.holdingsOf(device.deviceId)
    return {
      device: { id: device.deviceId, name: device.config.deviceName },
      home: device.layout.home,
      libraryId: device.catalog.libraryId ?? null,
      roots: device.config.roots,
      devices: device.catalog.devices.size,
      tracks: summary.tracks,
      videos: summary.videos,
      albums: summary.albums,
      artists: summary.artists,
      covers: device.catalog.covers.size,
      onThisDevice: { tracks: here.tracks, bytes: here.bytes },
      network: node === undefined ? null : await networkStatus(node as CloudlessNode, signal),
    }
  },
})

/**
 * Resolves once the track's (edited) `field` equals `value`, or with `false` after `timeoutMs`.
 * Lets scripts and benchmarks wait for a change to replicate without polling.
 */
export const waitTrackOp = defineOp<
  { track: string; field: keyof TrackView; value: unknown; timeoutMs?: number },
  { reached: boolean; waitedMs: number }
>({
  name: 'wait-track',
  async run({ device, signal }, args) {
    const started = performance.now()
    const matches = () => {
      const track = findTrack(device.catalog, args.track)
      return track !== undefined && JSON.stringify(track[args.field]) === JSON.stringify(args.value)
    }
    if (matches()) return { reached: true, waitedMs: 0 }
    const reached = await new Promise<boolean>((resolve) => {
      const done = (value: boolean) => {
        device.catalog.doc.off('afterTransaction', check)
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      }
      const check = () => {
        if (matches()) done(true)
      }
      const onAbort = () => done(false)
      const timer = setTimeout(() => done(false), args.timeoutMs ?? 30_000)
      signal.addEventListener('abort', onAbort)
      device.catalog.doc.on('afterTransaction', check)
    })
    return { reached, waitedMs: performance.now() - started }
  },
})
