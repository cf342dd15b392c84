import { tracksOp } from '../../ops/library-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { cell, formatDuration, printJson, println } from '../output.ts'

export const tracksCommand: Command = {
  name: 'tracks',
  usage: `Usage: cloudless tracks [--videos | --audio] [--json]

Lists every track of the library, on any device, sorted by album artist, album, disc and track.

Options:
  --audio        only music
  --videos       only videos
  --json         print a JSON array (id, title, artists, album, ..., locations)
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {
    audio: { type: 'boolean' },
    videos: { type: 'boolean' },
  },
  async run(ctx) {
    if (ctx.values.audio && ctx.values.videos) throw new UsageError('--audio and --videos exclude each other')
    {
      const mediaType = ctx.values.audio ? 'audio' : ctx.values.videos ? 'video' : undefined
      const tracks = await runOp(ctx, tracksOp, { mediaType })
      if (ctx.json) {
        printJson(ctx, tracks)
        return EXIT_OK
      }
      if (tracks.length === 0) {
        println(ctx, 'The library is empty. Add music with: cloudless scan <folder>')
        return EXIT_OK
      }
      for (const t of tracks) {
        const no = t.trackNo === null ? '  ' : String(t.trackNo).padStart(2)
        println(
          ctx,
          `${t.id.slice(0, 10)}  ${cell(t.artists.join(', ') || '?', 22)}  ${cell(t.album ?? (t.mediaType === 'video' ? '(video)' : '?'), 24)}  ${no} ${cell(t.title, 32)} ${formatDuration(t.durationSec).padStart(6)}`,
        )
      }
      println(ctx, `${tracks.length} tracks`)
      return EXIT_OK
    }
  },
}
