import { listAlbums, listArtists, listTracks } from '../../../crdt/index.ts'
import { Device } from '../../device/device.ts'
import type { Command } from '../command.ts'
import { EXIT_OK } from '../errors.ts'
import { formatBytes, printJson, println } from '../output.ts'

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show this device and a summary of the library',
  usage: `Usage: cloudless status [--json]

Shows this device's id and name, where it keeps its data, its library folders, and how many
tracks, albums, artists and videos the library holds.

Options:
  --json         print JSON
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {},
  async run(ctx) {
    const device = await Device.open(ctx.home)
    try {
      const tracks = listTracks(device.catalog)
      const audio = tracks.filter((t) => t.mediaType === 'audio')
      const here = tracks.filter((t) => t.locations.some((l) => l.device === device.deviceId))
      const status = {
        device: { id: device.deviceId, name: device.config.deviceName },
        home: ctx.home,
        libraryId: device.catalog.libraryId ?? null,
        roots: device.config.roots,
        devices: device.catalog.devices.size,
        tracks: audio.length,
        videos: tracks.length - audio.length,
        albums: listAlbums(audio).length,
        artists: listArtists(audio).length,
        covers: device.catalog.covers.size,
        onThisDevice: { tracks: here.length, bytes: here.reduce((sum, t) => sum + t.size, 0) },
        node: { running: false },
      }
      if (ctx.json) {
        printJson(ctx, status)
        return EXIT_OK
      }
      println(ctx, `Device   ${status.device.name} (${status.device.id})`)
      println(ctx, `Home     ${status.home}`)
      println(ctx, `Library  ${status.libraryId}, ${status.devices} device(s)`)
      println(
        ctx,
        `Folders  ${status.roots.length === 0 ? '(none yet: cloudless scan <folder>)' : status.roots.join(', ')}`,
      )
      println(
        ctx,
        `Catalog  ${status.tracks} tracks, ${status.albums} albums, ${status.artists} artists, ${status.videos} videos`,
      )
      println(ctx, `Here     ${status.onThisDevice.tracks} files, ${formatBytes(status.onThisDevice.bytes)}`)
      return EXIT_OK
    } finally {
      await device.close()
    }
  },
}
