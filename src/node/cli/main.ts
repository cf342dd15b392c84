import { parseArgs } from 'node:util'
import { resolveHomeDir } from '../device/home.ts'
import type { Command, CommandContext } from './command.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts'

// Commands are loaded when used: `cloudless scan` need not load libp2p. Their summaries live here,
// so that `cloudless --help` loads none of them (it loaded 1,496 modules, libp2p included).
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  start: {
    summary: "Run this device's node until stopped (Ctrl+C)",
    load: async () => (await import('./commands/start.ts')).startCommand,
  },
  scan: {
    summary: 'Index music and videos in folders (remembers them for later scans)',
    load: async () => (await import('./commands/scan.ts')).scanCommand,
  },
  tracks: {
    summary: 'List the tracks and videos of the library',
    load: async () => (await import('./commands/tracks.ts')).tracksCommand,
  },
  status: {
    summary: 'Show this device and a summary of the library',
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  invite: {
    summary: 'Invite another device into this library (single use, expires)',
    load: async () => (await import('./commands/invite.ts')).inviteCommand,
  },
  join: {
    summary: "Join another device's library with its invite",
    load: async () => (await import('./commands/join.ts')).joinCommand,
  },
  devices: {
    summary: "List the library's devices, or remove one",
    load: async () => (await import('./commands/devices.ts')).devicesCommand,
  },
  edit: {
    summary: "Fix a track's title, artists, album and other tags",
    load: async () => (await import('./commands/edit.ts')).editCommand,
  },
  rate: {
    summary: 'Rate a track from 1 to 5 stars (0 removes the rating)',
    load: async () => (await import('./commands/rate.ts')).rateCommand,
  },
  fav: {
    summary: 'Mark a track as a favourite, or unmark it',
    load: async () => (await import('./commands/fav.ts')).favCommand,
  },
  playlists: {
    summary: 'List, show, create and change playlists',
    load: async () => (await import('./commands/playlists.ts')).playlistsCommand,
  },
  get: {
    summary: 'Copy a track to a file, from whichever device holds it',
    load: async () => (await import('./commands/get.ts')).getCommand,
  },
  pin: {
    summary: 'Keep tracks, albums, artists or playlists on this device for offline use',
    load: async () => (await import('./commands/pin.ts')).pinCommand,
  },
  unpin: {
    summary: 'Let pinned tracks be evicted from the cache again',
    load: async () => (await import('./commands/pin.ts')).unpinCommand,
  },
  cache: {
    summary: 'Show the cache: size, limit, pins, what is being fetched',
    load: async () => (await import('./commands/pin.ts')).cacheCommand,
  },
  mirror: {
    summary: 'Make this device keep a full copy of the whole library',
    load: async () => (await import('./commands/pin.ts')).mirrorCommand,
  },
  relay: {
    summary: "Run a relay for your library's devices (on a host with a public address)",
    load: async () => (await import('./commands/relay.ts')).relayCommand,
  },
  'start-default': {
    summary: 'What npm start runs: index ~/Music (or the bundled sample library)',
    load: async () => (await import('./commands/start-default.ts')).startDefaultCommand,
  },
}

const GLOBAL_OPTIONS = {
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

async function mainUsage(): Promise<string> {
  const commands = Object.entries(COMMANDS).filter(([name]) => name !== 'start-default')
  const width = Math.max(...commands.map(([name]) => name.length))
  const list = commands.map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`).join('\n')
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
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  const command = entry === undefined ? undefined : await entry.load()
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
