import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { createLogger, isLogLevel } from '../../log.ts'
import { DEFAULT_RELAY_TCP_PORT, DEFAULT_RELAY_WS_PORT } from '../../relay/constants.ts'
import { RelayServer } from '../../relay/relay-server.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'

export const relayCommand: Command = {
  name: 'relay',
  usage: `Usage: cloudless relay --allow <device id> [options]

Runs a relay-only node until stopped (Ctrl+C): a meeting point on the internet for the devices of
your library when they are behind NATs (home, hotel, phone network). It relays only for the devices
of the libraries it serves, without the usual 2-minute / 128 KiB limits, refuses everyone else, and
sees only encrypted streams (it holds no catalog and no media). Devices switch to a direct
connection when their networks allow it.

Once: name one device of your library with --allow (its id is in 'cloudless status'); then tell
the library about the relay, on any device:  cloudless start --relay <relay address>
(the address this command prints, with /p2p/<relay id>). The devices keep the relay's list of
devices current; it is kept in <home>/relay/relay.json, the relay's key in <home>/relay/identity.key.

Options:
  --allow <device id>    a device that may introduce its library (repeat for more; remembered)
  --tcp-port <n>         TCP port (default ${DEFAULT_RELAY_TCP_PORT})
  --ws-port <n>          WebSocket port, for browsers (default ${DEFAULT_RELAY_WS_PORT})
  --listen-host <ip>     interface to listen on (default 0.0.0.0)
  --announce <addr>      a public multiaddr to announce instead of the interface addresses (repeat)
  --log-level <level>    error, warn, info (default) or debug
  --json                 print how to reach the relay as JSON (one line) once it runs
  --home <dir>           the data folder; the relay keeps its own identity in <dir>/relay
  -h, --help             show this help`,
  options: {
    allow: { type: 'string', multiple: true },
    'tcp-port': { type: 'string' },
    'ws-port': { type: 'string' },
    'listen-host': { type: 'string' },
    announce: { type: 'string', multiple: true },
    'log-level': { type: 'string' },
  },
  async run(ctx) {
    const level = (ctx.values['log-level'] as string | undefined) ?? process.env.CLOUDLESS_LOG ?? 'info'
    if (!isLogLevel(level)) throw new UsageError(`--log-level takes error, warn, info or debug, not ${level}`)
    const allow = ((ctx.values.allow as string[] | undefined) ?? []).map((id) => {
      try {
        return peerIdFromString(id).toString()
      } catch {
        throw new UsageError(`--allow takes a device id (see: cloudless status), not ${id}`)
      }
    })
    const log = createLogger(level, ctx.stderr)
    const relay = await RelayServer.start({
      home: path.join(ctx.home, 'relay'),
      listenHost: (ctx.values['listen-host'] as string | undefined) ?? '0.0.0.0',
      tcpPort: port(ctx, 'tcp-port', DEFAULT_RELAY_TCP_PORT),
      wsPort: port(ctx, 'ws-port', DEFAULT_RELAY_WS_PORT),
      ...(ctx.values.announce === undefined ? {} : { announce: ctx.values.announce as string[] }),
      allow,
      log,
    })
    const described = relay.describe()
    if (ctx.json) ctx.stdout.write(`${JSON.stringify(described)}\n`)
    log.info(`relay ${described.peerId}`)
    for (const address of described.addresses) log.info(`listening on ${address}`)
    if (described.libraries.length === 0 && allow.length === 0)
      log.warn('this relay serves no library yet: start it with --allow <device id>')
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve()
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    log.info('stopping')
    await relay.stop()
    return EXIT_OK
  },
}

function port(ctx: CommandContext, flag: string, fallback: number): number {
  const value = ctx.values[flag] as string | undefined
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--${flag} takes a port number (0-65535)`)
  return n
}
