import { MAX_RATING } from '../../../crdt/index.ts'
import { rateOp } from '../../ops/user-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { printJson, println } from '../output.ts'
import { trackLine } from './edit.ts'

export const rateCommand: Command = {
  name: 'rate',
  usage: `Usage: cloudless rate <track> <0-${MAX_RATING}> [--json]

Gives a track a rating on every device of the library; 0 removes it. When two devices rate the
same track at once, the later rating wins. <track> is a track id or any unique start of it
(4+ characters), as listed by 'cloudless tracks'.

Options:
  --json         print the track as JSON (with 'rating': 1-${MAX_RATING} or null)
  --home <dir>   this device's data folder
  -h, --help     show this help

Example:
  cloudless rate 3f2a 5`,
  options: {},
  async run(ctx) {
    const [track, stars, ...extra] = ctx.positionals
    if (track === undefined || stars === undefined) throw new UsageError('give a track and a rating')
    if (extra.length > 0) throw new UsageError(`one track at a time (unexpected: ${extra.join(' ')})`)
    const rating = Number(stars)
    if (!/^\d$/.test(stars.trim()) || rating > MAX_RATING)
      throw new UsageError(`a rating is a whole number from 0 to ${MAX_RATING}, not '${stars}'`)
    const view = await runOp(ctx, rateOp, { track, rating })
    if (ctx.json) printJson(ctx, view)
    else if (view.rating === null) println(ctx, `No rating: ${trackLine(view)}`)
    else println(ctx, `${starsText(view.rating)}  ${trackLine(view)}`)
    return EXIT_OK
  },
}

function starsText(rating: number): string {
  return '★'.repeat(rating) + '☆'.repeat(MAX_RATING - rating)
}
