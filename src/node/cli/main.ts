import { parseArgs } from 'node:util'
import { resolveHomeDir } from '../device/home.ts'
import type { Command, CommandContext } from './command.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts'

// Commands are loaded when used: `cloudless scan` need not load libp2p (CLI start: 0.65 s -> less).
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start.ts')).startCommand,
  scan: async () => (await import('./commands/scan.ts')).scanCommand,
  tracks: async () => (await import('./commands/tracks.ts')).tracksCommand,
  status: async () => (await import('./commands/status.ts')).statusCommand,
  invite: async () => (await import('./commands/invite.ts')).inviteCommand,
  join: async () => (await import('./commands/join.ts')).joinCommand,
  devices: async () => (await import('./commands/devices.ts')).devicesCommand,
  edit: async () => (await import('./commands/edit.ts')).editCommand,
  rate: async () => (await import('./commands/rate.ts')).rateCommand,
  fav: async () => (await import('./commands/fav.ts')).favCommand,
  playlists: async () => (await import('./commands/playlists.ts')).playlistsCommand,
  get: async () => (await import('./commands/get.ts')).getCommand,
  pin: async () => (await import('./commands/pin.ts')).pinCommand,
  unpin: async () => (await import('./commands/pin.ts')).unpinCommand,
  cache: async () => (await import('./commands/pin.ts')).cacheCommand,
  mirror: async () => (await import('./commands/pin.ts')).mirrorCommand,
  relay: async () => (await import('./commands/relay.ts')).relayCommand,
  'start-default': async () => (await import('./commands/start-default.ts')).startDefaultCommand,
}

const GLOBAL_OPTIONS = {
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

async function mainUsage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()))
  const width = Math.max(...commands.map((c) => c.name.length))
  const list = commands
    .filter((c) => c.name !== 'start-default')
    .map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
    .join('\n')
  return `Usage: cloudless [<command>] [options]

Without a command, cloudless indexes this device's library folders (~/Music, or the bundled sample
library, on first use) and runs its node until Ctrl+C: what \`npm start\` does.

Your own devices are your media cloud: Cloudless indexes the music and videos you own and keeps one
library across your devices, peer to peer.

Commands:
${list}

Global options:
  --home <dir>   where this device keeps its data (default: $CLOUDLESS_HOME, else
                 $XDG_DATA_HOME/cloudless, else ~/.local/share/cloudless)
  --json         machine-readable output
  -h, --help     help for a command: cloudless <command> --help
  --version      print the version

Exit codes: 0 ok, 1 failure, 2 wrong usage.`
}

export async function runCli(
  argv: string[],
  io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  // No command: the main job (what `npm start` runs). `npm start -- <args>` passes a command.
  const [name, ...rest] =
    argv.length === 0 || argv[0]!.startsWith('--home') || argv[0] === '--json'
      ? ['start-default', ...argv]
      : argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${await mainUsage()}\n`)
    return EXIT_OK
  }
  if (name === '--version') {
    io.stdout.write(`${await version()}\n`)
    return EXIT_OK
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  const command = load === undefined ? undefined : await load()
  if (command === undefined) {
    io.stderr.write(`cloudless: unknown command '${name}'\n\n${await mainUsage()}\n`)
    return EXIT_USAGE
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    })
  } catch (error) {
    io.stderr.write(`cloudless ${name}: ${(error as Error).message}\n\n${command.usage}\n`)
    return EXIT_USAGE
  }
  if (parsed.values.help) {
    io.stdout.write(`${command.usage}\n`)
    return EXIT_OK
  }
  const controller = new AbortController()
  const onSignal = () => controller.abort(new Error('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const ctx: CommandContext = {
    home: resolveHomeDir(parsed.values.home as string | undefined),
    json: parsed.values.json === true,
    values: parsed.values,
    positionals: parsed.positionals,
    signal: controller.signal,
    stdout: io.stdout,
    stderr: io.stderr,
  }
  try {
    return await command.run(ctx)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`cloudless ${name}: ${error.message}\n\n${command.usage}\n`)
      return EXIT_USAGE
    }
    if (controller.signal.aborted) {
      io.stderr.write(`cloudless ${name}: interrupted\n`)
      return EXIT_FAILURE
    }
    const e = error as Error
    io.stderr.write(`cloudless ${name}: ${e.message}\n`)
    if (process.env.CLOUDLESS_DEBUG) io.stderr.write(`${e.stack}\n`)
    return EXIT_FAILURE
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

// `cloudless tracks | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

process.exitCode = await runCli(process.argv.slice(2))
