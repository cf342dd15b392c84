import { cacheOp, mirrorOp, pinOp, unpinOp } from '../../ops/media-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { cell, formatBytes, printJson, println } from '../output.ts'

const TARGET_HELP = `<what> is a track id (or a unique prefix), an album title or id, an artist, or a playlist.`

export const pinCommand: Command = {
  name: 'pin',
  usage: `Usage: cloudless pin <what> [--json]

Pins what you name: its files are fetched to this device in the background (see cloudless cache
for progress) and never evicted from the cache. ${TARGET_HELP}
Needs the running node.

Options:
  --json         print JSON
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {},
  async run(ctx) {
    const target = ctx.positionals.join(' ').trim()
    if (target === '') throw new UsageError('name what to pin')
    const result = await runOp(ctx, pinOp, { target })
    if (ctx.json) printJson(ctx, result)
    else println(ctx, `Pinned ${result.label}: ${result.tracks} tracks, ${result.toFetch} to fetch.`)
    return EXIT_OK
  },
}

export const unpinCommand: Command = {
  name: 'unpin',
  usage: `Usage: cloudless unpin <what> [--json]

Undoes cloudless pin: the files stay in the cache until it needs the room. ${TARGET_HELP}

Options:
  --json         print JSON
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {},
  async run(ctx) {
    const target = ctx.positionals.join(' ').trim()
    if (target === '') throw new UsageError('name what to unpin')
    const result = await runOp(ctx, unpinOp, { target })
    if (ctx.json) printJson(ctx, result)
    else println(ctx, `Unpinned ${result.label}: ${result.tracks} tracks.`)
    return EXIT_OK
  },
}

export const cacheCommand: Command = {
  name: 'cache',
  usage: `Usage: cloudless cache [--limit <size>] [--json]

Shows how much of this device's cache is used, its limit, what is pinned, what is being
fetched with its progress, and how many files wait their turn. Needs the running node.

Options:
  --limit <size>  set the cache limit, e.g. 20GB, 500MB (pins may exceed it)
  --json          print JSON
  --home <dir>    this device's data folder
  -h, --help      show this help`,
  options: { limit: { type: 'string' } },
  async run(ctx) {
    const limit = ctx.values.limit === undefined ? undefined : parseSize(ctx.values.limit as string)
    const status = await runOp(ctx, cacheOp, { limitBytes: limit })
    if (ctx.json) {
      printJson(ctx, status)
      return EXIT_OK
    }
    const { usage } = status
    println(
      ctx,
      `Cache    ${formatBytes(usage.bytes)} of ${formatBytes(usage.limitBytes)} (${usage.completeBlobs} complete files, ${formatBytes(usage.pinnedBytes)} pinned)${usage.overLimit ? ' - over the limit' : ''}`,
    )
    println(ctx, `Mirror   ${status.mirror ? 'on: this device keeps a copy of the whole library' : 'off'}`)
    for (const pin of status.pins) {
      println(
        ctx,
        `Pinned   ${cell(pin.label, 40)} ${pin.complete}/${pin.blobs} files, ${formatBytes(pin.bytes)}`,
      )
    }
    if (status.queued.files > 0) {
      println(ctx, `Queued   ${status.queued.files} files, ${formatBytes(status.queued.bytes)}`)
    }
    for (const f of status.fetching) {
      const percent = f.blocksTotal > 0 ? Math.round((100 * f.blocksDone) / f.blocksTotal) : 0
      println(
        ctx,
        `Fetching ${cell(f.title, 40)} ${f.state === 'failed' ? `failed: ${f.error}` : `${percent}%`}`,
      )
    }
    return EXIT_OK
  },
}

export const mirrorCommand: Command = {
  name: 'mirror',
  usage: `Usage: cloudless mirror [on|off] [--json]

A mirror device fetches every file of the library in the background and keeps it, verified: a
backup that follows the library. Without an argument, shows whether this device mirrors.

Options:
  --json         print JSON
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {},
  async run(ctx) {
    const [state] = ctx.positionals
    if (state !== undefined && state !== 'on' && state !== 'off') throw new UsageError('say on or off')
    const result = await runOp(ctx, mirrorOp, state === undefined ? {} : { on: state === 'on' })
    if (ctx.json) printJson(ctx, result)
    else
      println(
        ctx,
        result.mirror
          ? `Mirroring the library: ${result.queued} files to fetch.`
          : 'This device does not mirror the library.',
      )
    return EXIT_OK
  },
}

function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$/i.exec(text)
  if (match === null) throw new UsageError(`'${text}' is not a size (e.g. 500MB, 20GB)`)
  const units: Record<string, number> = {
    b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
  } // biome-ignore format: a table
  return Math.round(Number(match[1]) * units[(match[2] ?? 'b').toLowerCase()]!)
}
