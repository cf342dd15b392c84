import { favOp } from '../../ops/user-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { printJson, println } from '../output.ts'
import { trackLine } from './edit.ts'

export const favCommand: Command = {
  name: 'fav',
  usage: `Usage: cloudless fav <track> [--on | --off] [--json]

Toggles whether a track is a favourite, on every device of the library; --on and --off set it
instead. <track> is a track id or any unique start of it (4+ characters), as listed by
'cloudless tracks'.

Options:
  --on           make the track a favourite (whatever it was)
  --off          make it not a favourite
  --json         print the track as JSON (with 'favourite': true or false)
  --home <dir>   this device's data folder
  -h, --help     show this help

Examples:
  cloudless fav 3f2a
  cloudless fav 3f2a --off`,
  options: {
    on: { type: 'boolean' },
    off: { type: 'boolean' },
  },
  async run(ctx) {
    const [track, ...extra] = ctx.positionals
    if (track === undefined) throw new UsageError('which track? Give its id (or the start of it)')
    if (extra.length > 0) throw new UsageError(`one track at a time (unexpected: ${extra.join(' ')})`)
    if (ctx.values.on && ctx.values.off) throw new UsageError('--on and --off exclude each other')
    const on = ctx.values.on ? true : ctx.values.off ? false : undefined
    const view = await runOp(ctx, favOp, { track, on })
    if (ctx.json) printJson(ctx, view)
    else println(ctx, `${view.favourite ? '♥ favourite      ' : '  not a favourite'}  ${trackLine(view)}`)
    return EXIT_OK
  },
}
