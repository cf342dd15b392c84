import { callNodeOp, findRunningNode } from '../../control/client.ts'
import { createLogger } from '../../log.ts'
import { type JoinResult, joinOp } from '../../ops/network-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { printJson, println } from '../output.ts'

export const joinCommand: Command = {
  name: 'join',
  usage: `Usage: cloudless join <invite link or code> [--json]

Pairs this device with the device that made the invite (cloudless invite on that device): both then
share one library and this device receives the whole catalog. Uses the running node when there is
one; otherwise starts the node for the time it takes to join.

Options:
  --json         print JSON: libraryId, inviter, tracks, syncMs
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {},
  async run(ctx) {
    const invite = ctx.positionals.join(' ').trim()
    if (invite === '') throw new UsageError('give the invite: cloudless join <link or code>')
    const running = await findRunningNode(ctx.home)
    let result: JoinResult
    if (running !== undefined)
      result = await callNodeOp<JoinResult>(running, joinOp.name, { invite }, ctx.signal)
    else {
      // Loaded only here: libp2p and its transports take a while to import, and a running node
      // (the usual case) does not need them in this process.
      const { CloudlessNode } = await import('../../daemon/node.ts')
      const node = await CloudlessNode.start({
        home: ctx.home,
        log: createLogger('warn', ctx.stderr),
        watch: false,
      })
      try {
        result = await joinOp.run({ device: node.device, node, signal: ctx.signal }, { invite })
      } finally {
        await node.stop()
      }
    }
    if (ctx.json) {
      printJson(ctx, result)
      return EXIT_OK
    }
    println(
      ctx,
      `Joined the library of ${result.inviter.name}: ${result.tracks} tracks, in ${(result.syncMs / 1000).toFixed(1)} s.`,
    )
    if (running === undefined) println(ctx, 'Run `cloudless start` to keep this device in sync.')
    return EXIT_OK
  },
}
