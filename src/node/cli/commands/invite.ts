import { inviteOp } from '../../ops/network-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { printJson, println } from '../output.ts'

export const inviteCommand: Command = {
  name: 'invite',
  usage: `Usage: cloudless invite [--minutes <n>] [--json]

Prints an invite for another device: a link, and a short code a person can type. It works once and
expires after 15 minutes. On the other device run: cloudless join <link or code>
Needs the running node (cloudless start).

Options:
  --minutes <n>  how long the invite stays open (default 15)
  --json         print JSON: id, link, code, expiresAt, peerId, addresses, webLink
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: { minutes: { type: 'string' } },
  async run(ctx) {
    const minutes = ctx.values.minutes === undefined ? 15 : Number(ctx.values.minutes)
    if (!(minutes > 0)) throw new UsageError('--minutes takes a number of minutes above 0')
    const invite = await runOp(ctx, inviteOp, { ttlMinutes: minutes })
    if (ctx.json) {
      printJson(ctx, invite)
      return EXIT_OK
    }
    println(ctx, 'On the other device, run one of:')
    println(ctx)
    println(ctx, `  cloudless join '${invite.link}'`)
    if (invite.code !== null) println(ctx, `  cloudless join ${invite.code}`)
    println(ctx)
    println(ctx, 'Or, in a browser that reaches this device (the web player joins as a device of its own):')
    println(ctx)
    println(ctx, `  ${invite.webLink}`)
    println(ctx)
    println(ctx, `The invite works once and expires at ${new Date(invite.expiresAt).toLocaleTimeString()}.`)
    return EXIT_OK
  },
}
