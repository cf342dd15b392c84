import { findRunningNode } from '../../control/client.ts'
import { statusOp } from '../../ops/library-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_OK } from '../errors.ts'
import { runOp } from '../library.ts'
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
    const node = await findRunningNode(ctx.home)
    const status = {
      ...(await runOp(ctx, statusOp, {})),
      node: node === undefined ? { running: false } : { running: true, pid: node.pid, http: node.httpUrl },
    }
    if (ctx.json) {
      printJson(ctx, status)
      return EXIT_OK
    }
    println(ctx, `Device   ${status.device.name} (${status.device.id})`)
    println(ctx, `Home     ${status.home}`)
    println(
      ctx,
      `Node     ${node === undefined ? 'not running (start it with: cloudless start)' : `running, pid ${node.pid}, ${node.httpUrl}`}`,
    )
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
  },
}
