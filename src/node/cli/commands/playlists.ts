import type { PlaylistView } from '../../../crdt/index.ts'
import {
  playlistAddOp,
  playlistCreateOp,
  playlistDeleteOp,
  playlistMoveOp,
  playlistRemoveOp,
  playlistRenameOp,
  playlistShowOp,
  playlistsOp,
} from '../../ops/user-ops.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { cell, formatDuration, printJson, println } from '../output.ts'

const SUBCOMMANDS = ['list', 'show', 'create', 'rename', 'add', 'remove', 'move', 'delete'] as const
type Subcommand = (typeof SUBCOMMANDS)[number]

export const playlistsCommand: Command = {
  name: 'playlists',
  usage: `Usage: cloudless playlists [list]                             list the playlists
       cloudless playlists show <playlist>                     list a playlist's tracks
       cloudless playlists create <name>                       make an empty playlist
       cloudless playlists rename <playlist> <name>
       cloudless playlists add <playlist> <track>... [--at N]  add tracks (at the end, or from position N)
       cloudless playlists remove <playlist> <track|#N>...     remove tracks (every time they occur)
                                                               or the items at positions N
       cloudless playlists move <playlist> <from> <to>         move the item at position <from> to <to>
       cloudless playlists delete <playlist>

Playlists belong to the library: every device sees and changes them, and changes made on two
devices at once (even offline) are merged, so tracks added on both stay. <playlist> is a playlist's
name, its id or any unique start of the id (4+ characters). <track> is a track id or any unique
start of it, as listed by 'cloudless tracks'. Positions count from 1, as 'show' lists them.

Options:
  --at <n>       (add) the position the first added track takes
  --json         print JSON: the playlist(s), with 'items' for show
  --home <dir>   this device's data folder
  -h, --help     show this help

Examples:
  cloudless playlists create 'Road trip'
  cloudless playlists add 'Road trip' 3f2a 9bc0 --at 1
  cloudless playlists remove 'Road trip' '#2'
  cloudless playlists move 'Road trip' 3 1`,
  options: {
    at: { type: 'string' },
  },
  async run(ctx) {
    const [word = 'list', ...args] = ctx.positionals
    if (!(SUBCOMMANDS as readonly string[]).includes(word))
      throw new UsageError(`unknown subcommand '${word}' (one of: ${SUBCOMMANDS.join(', ')})`)
    const sub = word as Subcommand
    if (ctx.values.at !== undefined && sub !== 'add') throw new UsageError('--at goes with add only')
    switch (sub) {
      case 'list':
        return list(ctx, args)
      case 'show':
        return show(ctx, args)
      case 'create':
        return create(ctx, args)
      case 'rename':
        return rename(ctx, args)
      case 'add':
        return add(ctx, args)
      case 'remove':
        return remove(ctx, args)
      case 'move':
        return move(ctx, args)
      case 'delete':
        return deletePlaylist(ctx, args)
    }
  },
}

async function list(ctx: CommandContext, args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`list takes no arguments (unexpected: ${args.join(' ')})`)
  const playlists = await runOp(ctx, playlistsOp, {})
  if (ctx.json) {
    printJson(ctx, playlists)
    return EXIT_OK
  }
  if (playlists.length === 0) {
    println(ctx, 'No playlists yet. Make one with: cloudless playlists create <name>')
    return EXIT_OK
  }
  for (const p of playlists)
    println(ctx, `${p.id}  ${cell(p.name, 32)} ${counted(p.trackCount, 'track').padStart(10)}  ${total(p)}`)
  return EXIT_OK
}

async function show(ctx: CommandContext, args: string[]): Promise<number> {
  const [playlist] = exactly(args, ['playlist'])
  const detail = await runOp(ctx, playlistShowOp, { playlist: playlist! })
  if (ctx.json) {
    printJson(ctx, detail)
    return EXIT_OK
  }
  println(ctx, `${detail.name}  (${detail.id}, ${counted(detail.trackCount, 'track')}, ${total(detail)})`)
  const width = String(detail.items.length).length
  for (const item of detail.items) {
    const t = item.track
    const what =
      t === null
        ? `${item.trackId.slice(0, 10)}  (not in the library yet)`
        : `${t.id.slice(0, 10)}  ${cell(t.artists.join(', ') || '?', 22)}  ${cell(t.title, 32)} ${formatDuration(t.durationSec).padStart(6)}`
    println(ctx, `  ${String(item.position).padStart(width)}  ${what}`)
  }
  return EXIT_OK
}

async function create(ctx: CommandContext, args: string[]): Promise<number> {
  if (args.length === 0) throw new UsageError('create needs a name')
  const playlist = await runOp(ctx, playlistCreateOp, { name: args.join(' ') })
  return done(ctx, playlist, `Created playlist '${playlist.name}' (${playlist.id})`)
}

async function rename(ctx: CommandContext, args: string[]): Promise<number> {
  const [playlist, ...name] = args
  if (playlist === undefined || name.length === 0) throw new UsageError('rename needs a playlist and a name')
  const renamed = await runOp(ctx, playlistRenameOp, { playlist, name: name.join(' ') })
  return done(ctx, renamed, `Renamed to '${renamed.name}' (${renamed.id})`)
}

async function add(ctx: CommandContext, args: string[]): Promise<number> {
  const [playlist, ...tracks] = args
  if (playlist === undefined || tracks.length === 0) throw new UsageError('add needs a playlist and tracks')
  const at = ctx.values.at as string | undefined
  const position = at === undefined ? undefined : positionArg('--at', at)
  const result = await runOp(ctx, playlistAddOp, { playlist, tracks, position })
  return done(
    ctx,
    result,
    `Added ${counted(tracks.length, 'track')} to '${result.name}': ${counted(result.trackCount, 'track')} now`,
  )
}

async function remove(ctx: CommandContext, args: string[]): Promise<number> {
  const [playlist, ...items] = args
  if (playlist === undefined || items.length === 0)
    throw new UsageError('remove needs a playlist and tracks or #positions')
  const positions = items.filter((i) => i.startsWith('#')).map((i) => positionArg(i, i.slice(1)))
  const tracks = items.filter((i) => !i.startsWith('#'))
  const result = await runOp(ctx, playlistRemoveOp, { playlist, positions, tracks })
  return done(
    ctx,
    result,
    `Removed ${counted(result.removed, 'item')} from '${result.name}': ${counted(result.trackCount, 'track')} now`,
  )
}

async function move(ctx: CommandContext, args: string[]): Promise<number> {
  const [playlist, fromText, toText] = exactly(args, ['playlist', 'from', 'to'])
  const from = positionArg('<from>', fromText!.replace(/^#/, ''))
  const to = positionArg('<to>', toText!.replace(/^#/, ''))
  const result = await runOp(ctx, playlistMoveOp, { playlist: playlist!, from, to })
  return done(ctx, result, `Moved #${from} to #${to} in '${result.name}'`)
}

async function deletePlaylist(ctx: CommandContext, args: string[]): Promise<number> {
  const [playlist] = exactly(args, ['playlist'])
  const deleted = await runOp(ctx, playlistDeleteOp, { playlist: playlist! })
  return done(
    ctx,
    deleted,
    `Deleted playlist '${deleted.name}' (${deleted.id}, ${counted(deleted.trackCount, 'track')})`,
  )
}

function done(ctx: CommandContext, result: unknown, message: string): number {
  if (ctx.json) printJson(ctx, result)
  else println(ctx, message)
  return EXIT_OK
}

/** The arguments named by `names`, exactly that many. */
function exactly(args: string[], names: string[]): string[] {
  if (args.length !== names.length)
    throw new UsageError(`expected ${names.map((n) => `<${n}>`).join(' ')}, got ${args.length} argument(s)`)
  return args
}

function positionArg(what: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${what}: a position is a number from 1`)
  return Number(text)
}

function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

function total(p: PlaylistView): string {
  return p.trackCount === 0 ? '' : formatDuration(p.durationSec)
}
