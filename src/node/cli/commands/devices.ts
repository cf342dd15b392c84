import { deviceRemoveOp, devicesOp } from '../../ops/network-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { cell, formatBytes, printJson, println } from '../output.ts'

export const devicesCommand: Command = {
  name: 'devices',
  usage: `Usage: cloudless devices [--json]
       cloudless devices remove <device id> [--json]

Lists the devices of this library: name, id, online or when last seen, how this device reaches it
now (lan, direct over the internet, or relayed) with the round-trip time, and how many files each
holds (--json adds the address in use). "remove" revokes a device on every device: it is cut off and
receives nothing more (a unique prefix of its id is enough).

Options:
  --json         print JSON
  --home <dir>   this device's data folder
  -h, --help     show this help`,
  options: {},
  async run(ctx) {
    const [sub, ...rest] = ctx.positionals
    if (sub === 'remove') {
      if (rest.length !== 1) throw new UsageError('give one device id: cloudless devices remove <id>')
      const removed = await runOp(ctx, deviceRemoveOp, { id: rest[0]! })
      if (ctx.json) printJson(ctx, removed)
      else println(ctx, `Removed ${removed.name} (${removed.id}) from the library.`)
      return EXIT_OK
    }
    if (sub !== undefined) throw new UsageError(`unknown subcommand '${sub}'`)
    const devices = await runOp(ctx, devicesOp, {})
    if (ctx.json) {
      printJson(ctx, devices)
      return EXIT_OK
    }
    for (const d of devices) {
      const state = d.revoked
        ? 'removed'
        : d.self
          ? 'this device'
          : d.online
            ? `${d.connection?.reach ?? 'online'}${d.connection?.rttMs == null ? '' : `, ${d.connection.rttMs} ms`}`
            : d.lastSeen === null
              ? 'not seen yet'
              : `last seen ${new Date(d.lastSeen).toLocaleString()}`
      println(
        ctx,
        `${cell(d.name, 20)} ${d.id}  ${cell(state, 44)} ${d.holds.files} files, ${formatBytes(d.holds.bytes)}`,
      )
    }
    return EXIT_OK
  },
}
