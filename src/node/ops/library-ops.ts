import path from 'node:path'
import { listAlbums, listArtists, listTracks, type MediaType, type TrackView } from '../../crdt/index.ts'
import { type ScanReport, scan } from '../scanner/scanner.ts'
import { defineOp } from './op.ts'

export const scanOp = defineOp<{ roots: string[] }, ScanReport>({
  name: 'scan',
  async run({ device, signal }, { roots: given }) {
    const resolved = given.map((r) => path.resolve(r))
    const roots = [...new Set([...device.config.roots, ...resolved])]
    if (resolved.some((r) => !device.config.roots.includes(r)))
      await device.saveConfig({ ...device.config, roots })
    return scan(device, roots, { signal })
  },
})

export const tracksOp = defineOp<{ includeMissing?: boolean; mediaType?: MediaType }, TrackView[]>({
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
}

export const statusOp = defineOp<Record<string, never>, StatusResult>({
  name: 'status',
  async run({ device }) {
    const tracks = listTracks(device.catalog)
    const audio = tracks.filter((t) => t.mediaType === 'audio')
    const here = tracks.filter((t) => t.locations.some((l) => l.device === device.deviceId))
    return {
      device: { id: device.deviceId, name: device.config.deviceName },
      home: device.layout.home,
      libraryId: device.catalog.libraryId ?? null,
      roots: device.config.roots,
      devices: device.catalog.devices.size,
      tracks: audio.length,
      videos: tracks.length - audio.length,
      albums: listAlbums(audio).length,
      artists: listArtists(audio).length,
      covers: device.catalog.covers.size,
      onThisDevice: { tracks: here.length, bytes: here.reduce((sum, t) => sum + t.size, 0) },
    }
  },
})
