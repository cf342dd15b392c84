import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/**
 * The NAT test bed (scripts/netns) seen from tests and the benchmark: build it, run `cloudless`
 * processes inside its namespaces, read the relay's byte counters.
 */

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NETNS = path.join(ROOT, 'scripts/netns')
const CLI = path.join(ROOT, 'bin/cloudless.js')
const HTTP_GET = fileURLToPath(new URL('./http-get.mjs', import.meta.url))

/**
 * Namespaces are named <prefix>-home etc. Each test process has its own prefix (its pid), so that
 * test files, the benchmark and other people's test runs on the same machine each have a bed of
 * their own; a bed left behind by a run that died is torn down by the next bedUp.
 */
const RUN_PREFIX = /^clnat(\d+)$/
let prefix = process.env.CLOUDLESS_NETNS_PREFIX ?? `clnat${process.pid}`
export function setBedPrefix(value: string): void {
  prefix = value
}
export const RELAY_IP = '203.0.114.10'
export const STUN_URL = 'stun:203.0.114.20:3478'
export type Place = 'home' | 'hotel' | 'relay' | 'stun'
export const nsOf = (place: Place) => `${prefix}-${place}`
const scriptEnv = () => ({ env: { ...process.env, CLOUDLESS_NETNS_PREFIX: prefix } })

/** Whether this machine can run the test bed; `reason` says why not. */
export async function bedAvailability(): Promise<{ ok: boolean; reason: string }> {
  try {
    await run('bash', [path.join(NETNS, 'check.sh')], scriptEnv())
    return { ok: true, reason: '' }
  } catch (error) {
    const e = error as { stdout?: string; message: string }
    return { ok: false, reason: (e.stdout ?? '').trim() || e.message }
  }
}

/**
 * Why the tests on the bed cannot run here ('' when they can): it also needs coturn for STUN.
 * The tests skip with it, printed.
 */
export async function bedSkipReason(): Promise<string> {
  const availability = await bedAvailability()
  if (!availability.ok) return availability.reason
  try {
    await run('sh', ['-c', 'command -v turnserver'])
    return ''
  } catch {
    return 'coturn is not installed (apt-get install coturn): the test bed needs its STUN server'
  }
}

export type NatMode = 'cone' | 'symmetric'

export async function bedUp(nat: { home: NatMode; hotel: NatMode }): Promise<void> {
  await reapDeadBeds()
  await run('bash', [path.join(NETNS, 'up.sh'), '--home', nat.home, '--hotel', nat.hotel], scriptEnv())
}

/** Tears down beds of test processes that are gone (killed before their afterAll ran). */
async function reapDeadBeds(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list'])
  const dead = new Set<string>()
  for (const line of stdout.split('\n')) {
    const owner = RUN_PREFIX.exec(line.split(/[\s]/)[0]?.split('-')[0] ?? '')
    if (owner === null || isAlive(Number(owner[1]))) continue
    dead.add(owner[0])
  }
  for (const other of dead) {
    await run('bash', [path.join(NETNS, 'down.sh')], {
      env: { ...process.env, CLOUDLESS_NETNS_PREFIX: other },
    })
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function bedDown(): Promise<void> {
  await run('bash', [path.join(NETNS, 'down.sh')], scriptEnv())
}

/** Changes one router's NAT (new flows only; restart the device for a clean start). */
export async function setNat(router: 'home' | 'hotel', mode: NatMode): Promise<void> {
  await run('bash', [path.join(NETNS, 'nat.sh'), router, mode], scriptEnv())
}

/**
 * Breaks (true) or mends (false) the direct path between the home and the hotel NATs (cut.sh):
 * their paths to the relay and to STUN stay up.
 */
export async function cutDirectPath(on: boolean): Promise<void> {
  await run('bash', [path.join(NETNS, 'cut.sh'), on ? 'on' : 'off'], scriptEnv())
}

/** Packets the cut has dropped so far: more than 0 once the devices tried the direct path. */
export async function droppedByCut(): Promise<number> {
  const { stdout } = await run('bash', [path.join(NETNS, 'cut.sh'), 'dropped'], scriptEnv())
  return Number(stdout.trim())
}

/** Bytes through the relay's internet link so far (in + out). */
export async function relayBytes(): Promise<number> {
  const { stdout } = await run('bash', [path.join(NETNS, 'counters.sh')], scriptEnv())
  const { in: inBytes, out } = JSON.parse(stdout) as { in: number; out: number }
  return inBytes + out
}

/** Runs a script (plain .mjs or .ts) with this Node inside a namespace; returns its stdout. */
export async function runIn(
  place: Place,
  script: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', nsOf(place), process.execPath, script, ...args], {
    timeout: timeoutMs,
    cwd: ROOT,
  })
  return stdout
}

/** A `cloudless` process (start or relay) running inside a namespace until stopped. */
export class BedProcess {
  readonly place: Place
  readonly home: string
  readonly name: string
  child: ChildProcess | undefined
  log = ''
  described: Record<string, unknown> | undefined
  #args: string[] = []

  constructor(place: Place, home: string, name: string) {
    this.place = place
    this.home = home
    this.name = name
  }

  static async create(place: Place, name: string): Promise<BedProcess> {
    return new BedProcess(place, await fs.mkdtemp(path.join(os.tmpdir(), `cloudless-nat-${name}-`)), name)
  }

  /** Moves the device (its home dir) to another place: the laptop goes to the hotel. */
  moveTo(place: Place): BedProcess {
    return new BedProcess(place, this.home, this.name)
  }

  /** Starts `cloudless <args...> --json --home <home>` and waits for its first JSON line. */
  start(args: string[], options: { timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    this.#args = args
    return this.#spawn([CLI, ...args, '--json', '--home', this.home], options)
  }

  /** Starts another script of ours (one that prints a JSON line once it is ready) in the namespace. */
  startScript(script: string, args: string[], options: { timeoutMs?: number } = {}) {
    return this.#spawn([script, ...args], options)
  }

  async #spawn(argv: string[], options: { timeoutMs?: number }): Promise<Record<string, unknown>> {
    const child = spawn('ip', ['netns', 'exec', nsOf(this.place), process.execPath, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLOUDLESS_LOG: 'debug' },
    })
    this.child = child
    child.stderr?.on('data', (d) => {
      this.log += d
    })
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not start in time:\n${this.log}`)),
        options.timeoutMs ?? 60_000,
      )
      createInterface({ input: child.stdout! }).once('line', (l) => {
        clearTimeout(timer)
        resolve(l)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${this.name} exited with ${code} before it started:\n${this.log}`))
      })
    })
    this.described = JSON.parse(line) as Record<string, unknown>
    return this.described
  }

  get peerId(): string {
    const id = this.described?.peerId
    if (typeof id !== 'string') throw new Error(`${this.name} has not started`)
    return id
  }

  /** Runs a CLI command of this device inside its namespace (it talks to the running node). */
  async cli(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(
        'ip',
        ['netns', 'exec', nsOf(this.place), process.execPath, CLI, ...args, '--home', this.home],
        {
          timeout: timeoutMs,
          maxBuffer: 16 * 1024 * 1024,
        },
      )
      return { code: 0, stdout, stderr }
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string }
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
    }
  }

  async cliJson<T>(args: string[]): Promise<T> {
    const result = await this.cli([...args, '--json'])
    if (result.code !== 0)
      throw new Error(`cloudless ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
    return JSON.parse(result.stdout) as T
  }

  /** GETs a path of this node's HTTP API from inside its namespace, hashing the body. */
  async get(urlPath: string, timeoutMs = 300_000): Promise<HttpGetResult> {
    const http = this.described?.http
    if (typeof http !== 'string') throw new Error(`${this.name} has no HTTP API`)
    const { stdout } = await run(
      'ip',
      ['netns', 'exec', nsOf(this.place), process.execPath, HTTP_GET, `${http}${urlPath}`, String(timeoutMs)],
      {
        timeout: timeoutMs + 10_000,
      },
    )
    return JSON.parse(stdout) as HttpGetResult
  }

  /** Starts it again as it was started last (same home: same identity and state). */
  restart(): Promise<Record<string, unknown>> {
    return this.start(this.#args)
  }

  async stop(): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(timer)
    this.child = undefined
  }

  logTail(lines = 40): string {
    return this.log.split('\n').slice(-lines).join('\n')
  }
}

export interface HttpGetResult {
  status: number
  bytes: number
  sha256: string
  firstByteMs: number
  totalMs: number
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or throws after `deadlineMs`. */
export async function pollFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  deadlineMs = 120_000,
  everyMs = 1000,
): Promise<T> {
  const until = Date.now() + deadlineMs
  let last: unknown
  while (Date.now() < until) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(
    `gave up waiting for ${what}${last === undefined ? '' : ` (last error: ${(last as Error).message})`}`,
  )
}

/** A WAV file of noise (it does not compress, so every byte shows in the relay's counters). */
export async function writeNoiseWav(file: string, seconds: number): Promise<void> {
  const rate = 44_100
  const dataBytes = seconds * rate * 4
  const header = Buffer.alloc(44)
  header.write('RIFF', 0)
  header.writeUInt32LE(36 + dataBytes, 4)
  header.write('WAVEfmt ', 8)
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(2, 22)
  header.writeUInt32LE(rate, 24)
  header.writeUInt32LE(rate * 4, 28)
  header.writeUInt16LE(4, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36)
  header.writeUInt32LE(dataBytes, 40)
  const { randomBytes } = await import('node:crypto')
  await fs.mkdir(path.dirname(file), { recursive: true })
  await fs.writeFile(file, Buffer.concat([header, randomBytes(dataBytes)]))
}
