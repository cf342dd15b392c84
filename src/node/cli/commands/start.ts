import { CloudlessNode } from '../../daemon/node.ts'
import type { NetworkConfig } from '../../device/config.ts'
import { createLogger, isLogLevel } from '../../log.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'

export const startCommand: Command = {
  name: 'start',
  summary: "Run this device's node until stopped (Ctrl+C)",
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
    'no-watch': { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(ctx) {
    const level = (ctx.values['log-level'] as string | undefined) ?? process.env.CLOUDLESS_LOG ?? 'info'
    if (!isLogLevel(level)) throw new UsageError(`--log-level takes error, warn, info or debug, not ${level}`)
    const log = createLogger(level, ctx.stderr)
    const node = await CloudlessNode.start({
      home: ctx.home,
      log,
      network: networkOverrides(ctx),
      name: ctx.values.name as string | undefined,
      watch: ctx.values['no-watch'] !== true,
    })
    if (ctx.json) ctx.stdout.write(`${JSON.stringify(node.describe())}\n`)
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
  return out
}
