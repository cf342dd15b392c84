import { readNodeInfo } from '../../control/node-info.ts'
import type { NetworkConfig } from '../../device/config.ts'
import { localWebLink } from '../../http/local-link.ts'
import { createLogger, isLogLevel } from '../../log.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { loadNode } from '../load-node.ts'
import { println } from '../output.ts'

export const startCommand: Command = {
  name: 'start',
  usage: `Usage: cloudless start [options]

Runs this device's node: it joins the library's other devices over libp2p (TCP, WebSockets,
WebRTC-Direct, mDNS on the LAN), keeps the catalog in sync with them, watches the library folders,
and answers the other cloudless commands on this machine. Stops cleanly on Ctrl+C or SIGTERM.
Port settings are saved and reused on the next start.

Options:
  --name <name>          this device's name (default: the host name)
  --tcp-port <n>         libp2p TCP port (default 7740; 0 = any free port)
  --ws-port <n>          libp2p WebSocket port (default 7741)
  --webrtc-port <n>      libp2p WebRTC-Direct UDP port (default 7740)
  --listen-host <ip>     interface for the libp2p listeners (default 0.0.0.0)
  --http-port <n>        local HTTP API port (default 7742)
  --http-host <ip>       HTTP interface (default 127.0.0.1; 0.0.0.0 opens it to the LAN)
  --no-mdns              do not look for the library's devices on the LAN
  --relay <addr>         use this relay (cloudless relay prints its address) on every device of
                         the library: a setting in the catalog; repeat for more, 'none' removes them
  --stun <url>           a STUN/TURN server for hole punching (repeat; saved), e.g.
                         stun:stun.example.org:3478 or turn:user:password@host:3478;
                         'default' goes back to libp2p's public STUN servers
  --upnp, --no-upnp      ask the router to forward a port (UPnP / NAT-PMP); saved, off by default
  --no-watch             do not scan or watch the library folders
  --log-level <level>    error, warn, info (default) or debug
  --home <dir>           this device's data folder
  -h, --help             show this help`,
  options: {
    name: { type: 'string' },
    'tcp-port': { type: 'string' },
    'ws-port': { type: 'string' },
    'webrtc-port': { type: 'string' },
    'listen-host': { type: 'string' },
    'http-port': { type: 'string' },
    'http-host': { type: 'string' },
    'no-mdns': { type: 'boolean' },
    relay: { type: 'string', multiple: true },
    stun: { type: 'string', multiple: true },
    upnp: { type: 'boolean' },
    'no-upnp': { type: 'boolean' },
    'no-watch': { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(ctx) {
    const level = (ctx.values['log-level'] as string | undefined) ?? process.env.CLOUDLESS_LOG ?? 'info'
    if (!isLogLevel(level)) throw new UsageError(`--log-level takes error, warn, info or debug, not ${level}`)
    const log = createLogger(level, ctx.stderr)
    // Options first: a wrong one is reported before the node's modules load.
    const network = networkOverrides(ctx)
    const relays = await relayOption(ctx)
    const node = await (await loadNode()).start({
      home: ctx.home,
      log,
      network,
      name: ctx.values.name as string | undefined,
      watch: ctx.values['no-watch'] !== true,
      ...relays,
    })
    // The web app for a browser on this machine: the node's token in the fragment admits it.
    const info = await readNodeInfo(node.device.layout.nodeInfo)
    const webApp = info === undefined ? `${node.http.url}/` : localWebLink(node.http.url, info.token)
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ ...node.describe(), webApp })}\n`)
    else {
      println(ctx, `Web player on this machine: ${webApp}`)
      println(ctx, '  (the link carries the key of this node: keep it to yourself)')
    }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve()
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await node.stop()
    return EXIT_OK
  },
}

function networkOverrides(ctx: CommandContext): Partial<NetworkConfig> {
  const out: Partial<NetworkConfig> = {}
  const port = (flag: string): number | undefined => {
    const value = ctx.values[flag] as string | undefined
    if (value === undefined) return undefined
    const n = Number(value)
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new UsageError(`--${flag} takes a port number (0-65535)`)
    return n
  }
  const set = <K extends keyof NetworkConfig>(key: K, value: NetworkConfig[K] | undefined) => {
    if (value !== undefined) out[key] = value
  }
  set('tcpPort', port('tcp-port'))
  set('wsPort', port('ws-port'))
  set('webrtcPort', port('webrtc-port'))
  set('httpPort', port('http-port'))
  set('listenHost', ctx.values['listen-host'] as string | undefined)
  set('httpHost', ctx.values['http-host'] as string | undefined)
  if (ctx.values['no-mdns']) out.mdns = false
  if (ctx.values.upnp) out.upnp = true
  if (ctx.values['no-upnp']) out.upnp = false
  const stun = ctx.values.stun as string[] | undefined
  if (stun !== undefined) out.stunServers = stun.includes('default') ? [] : stun
  return out
}

async function relayOption(ctx: CommandContext): Promise<{ relays?: string[] }> {
  const given = ctx.values.relay as string[] | undefined
  if (given === undefined) return {}
  if (given.includes('none')) return { relays: [] }
  const { checkRelayAddress } = await import('../../relay/index.ts')
  try {
    return { relays: given.map(checkRelayAddress) }
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}
