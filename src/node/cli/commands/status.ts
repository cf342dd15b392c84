import { findRunningNode } from '../../control/client.ts'
import { statusOp } from '../../ops/library-ops.ts'
import type { NetworkStatus } from '../../ops/network-ops.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK } from '../errors.ts'
import { runOp } from '../library.ts'
import { formatBytes, printJson, println } from '../output.ts'

export const statusCommand: Command = {
  name: 'status',
  usage: `Usage: cloudless status [--json]

Shows this device's id and name, where it keeps its data, its library folders, and how many
tracks, albums, artists and videos the library holds. While the node runs, also the library's
relays (reserved, or why not) and how each other device is reached now: lan, direct (over the
internet, hole-punched included) or relayed, with the round-trip time (libp2p ping).

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
    if (status.network !== null) printNetwork(ctx, status.network)
    return EXIT_OK
  },
}

const RELAY_STATES: Record<string, string> = {
  reserved: 'reserved: other devices can reach this one through it',
  connected: 'connected, no reservation yet',
  connecting: 'connecting',
  unreachable: 'UNREACHABLE: devices away from home cannot reach this one through it',
  refused: 'REFUSED this device (is it allowed? see cloudless relay --help)',
  'bad-address': 'not a usable address',
}

function printNetwork(ctx: CommandContext, network: NetworkStatus): void {
  for (const relay of network.relays) {
    const why = relay.error === null || relay.state === 'reserved' ? '' : ` (${relay.error})`
    println(ctx, `Relay    ${relay.address}: ${RELAY_STATES[relay.state] ?? relay.state}${why}`)
  }
  for (const device of network.devices) {
    const how =
      device.reach === null
        ? 'offline'
        : `${device.reach}${device.rttMs === null ? '' : `, ${device.rttMs} ms`} (${device.address})`
    println(ctx, `Reaches  ${device.name}: ${how}`)
  }
}
