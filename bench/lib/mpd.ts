/**
 * Drives mpd (Music Player Daemon, Debian package `mpd`) as a peer benchmark: a private instance on
 * 127.0.0.1 with its own config, database, log and state in a temp dir, spoken to over its text protocol.
 *
 * mpd updates its database on start when the database file is missing, which would start the clock
 * before we can. So a first instance builds an empty database from an empty folder and stops; the
 * measured instance then loads that database and is told to `update` the real folder.
 */
import type { ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer, type Socket, connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { onCleanup } from './cleanup.ts'
import { processCpuMs } from './proc-stat.ts'
import { commandOutput, runProcess, spawnGroup, stopChild } from './process.ts'
import { msSince, nowMs, sleep } from './timing.ts'

export class MpdError extends Error {
  override name = 'MpdError'
}

/** The mpd binary on PATH, or null. */
export async function findMpd(): Promise<string | null> {
  const found = await commandOutput('sh', ['-c', 'command -v mpd'])
  return found?.trim() || null
}

export async function mpdVersion(binary: string): Promise<string | null> {
  const out = await commandOutput(binary, ['--version'])
  return out?.match(/Music Player Daemon (\S+)/)?.[1] ?? null
}

/**
 * mpd's path, installing the Debian package when it is missing and we are root. Returns the binary or
 * a note saying why mpd is skipped; `log` hears what is being done.
 */
export async function ensureMpd(log: (line: string) => void): Promise<{ binary: string } | { skip: string }> {
  const existing = await findMpd()
  if (existing !== null) return { binary: existing }
  if (process.getuid?.() !== 0) return { skip: 'mpd is not installed and we are not root to apt-get it' }
  if ((await commandOutput('sh', ['-c', 'command -v apt-get'])) === null)
    return { skip: 'mpd is not installed and there is no apt-get' }
  log('mpd not found: installing the Debian package (apt-get install -y mpd)…')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => runProcess('apt-get', ['install', '-y', '--no-install-recommends', 'mpd'], { env })
  let result = await install()
  if (result.code !== 0) {
    log('apt-get install failed; running apt-get update and trying again…')
    await runProcess('apt-get', ['update'], { env })
    result = await install()
  }
  const binary = await findMpd()
  if (result.code !== 0 || binary === null) {
    const tail = result.stderr.trim().split('\n').at(-1) ?? ''
    return { skip: `mpd could not be installed (apt-get: ${tail})` }
  }
  log(`installed mpd ${(await mpdVersion(binary)) ?? ''}`.trimEnd())
  return { binary }
}

// ---------------------------------------------------------------------------------------------------------
// Protocol client
// ---------------------------------------------------------------------------------------------------------

export type MpdResponse = Map<string, string>

/** One connection speaking mpd's line protocol; one command at a time. */
export class MpdClient {
  readonly #socket: Socket
  #buffer = ''
  #waiter: (() => void) | null = null
  #closed: Error | null = null
  greeting = ''

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setEncoding('utf8')
    socket.setNoDelay(true)
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      this.#wake()
    })
    socket.on('close', () => {
      this.#closed ??= new MpdError('mpd closed the connection')
      this.#wake()
    })
    socket.on('error', (error) => {
      this.#closed = error
      this.#wake()
    })
  }

  static async connect(port: number): Promise<MpdClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect({ host: '127.0.0.1', port })
      s.once('connect', () => resolve(s))
      s.once('error', reject)
    })
    const client = new MpdClient(socket)
    client.greeting = await client.#readLine()
    if (!client.greeting.startsWith('OK MPD ')) {
      client.close()
      throw new MpdError(`unexpected greeting from mpd: ${client.greeting}`)
    }
    return client
  }

  /** Sends one command and returns its `key: value` lines (the last value wins for repeated keys). */
  async command(line: string): Promise<MpdResponse> {
    this.#socket.write(`${line}\n`)
    const fields: MpdResponse = new Map()
    for (;;) {
      const reply = await this.#readLine()
      if (reply === 'OK') return fields
      if (reply.startsWith('ACK ')) throw new MpdError(`mpd refused "${line}": ${reply}`)
      const colon = reply.indexOf(': ')
      if (colon > 0) fields.set(reply.slice(0, colon), reply.slice(colon + 2))
    }
  }

  close(): void {
    this.#socket.destroy()
  }

  async #readLine(): Promise<string> {
    for (;;) {
      const newline = this.#buffer.indexOf('\n')
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline)
        this.#buffer = this.#buffer.slice(newline + 1)
        return line
      }
      if (this.#closed !== null) throw this.#closed
      await new Promise<void>((resolve) => {
        this.#waiter = resolve
      })
    }
  }

  #wake(): void {
    const waiter = this.#waiter
    this.#waiter = null
    waiter?.()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------

export interface MpdPaths {
  workDir: string
  config: string
  db: string
  log: string
  stderrLog: string
  state: string
}

export function mpdPaths(workDir: string): MpdPaths {
  return {
    workDir,
    config: join(workDir, 'mpd.conf'),
    db: join(workDir, 'database'),
    log: join(workDir, 'mpd.log'),
    stderrLog: join(workDir, 'mpd.stderr.log'),
    state: join(workDir, 'state'),
  }
}

/** A private, loopback-only configuration: no auto update, no zeroconf, no real audio. */
export function mpdConfig(paths: MpdPaths, musicDir: string, port: number): string {
  const q = (value: string) => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
  return [
    `music_directory ${q(musicDir)}`,
    `playlist_directory ${q(join(paths.workDir, 'playlists'))}`,
    `db_file ${q(paths.db)}`,
    `log_file ${q(paths.log)}`,
    `state_file ${q(paths.state)}`,
    `bind_to_address "127.0.0.1"`,
    `port "${port}"`,
    `auto_update "no"`,
    `zeroconf_enabled "no"`,
    `filesystem_charset "UTF-8"`,
    'audio_output {',
    '  type "null"',
    '  name "null"',
    '}',
    '',
  ].join('\n')
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

export interface RunningMpd {
  pid: number
  client: MpdClient
  /** CPU time mpd has used so far (all its threads), in ms. */
  cpuMs(): Promise<number | null>
  /** Peak RSS of the mpd process so far (VmHWM), in MB. */
  peakRssMB(): Promise<number | null>
  stop(): Promise<void>
}

/** Starts mpd in the foreground (stderr to a log file) and connects once it listens. */
export async function startMpd(
  binary: string,
  paths: MpdPaths,
  musicDir: string,
  timeoutMs = 15_000,
): Promise<RunningMpd> {
  await mkdir(join(paths.workDir, 'playlists'), { recursive: true })
  const port = await freePort()
  await writeFile(paths.config, mpdConfig(paths, musicDir, port))
  const stderrFd = openSync(paths.stderrLog, 'a')
  let child: ChildProcess
  try {
    child = spawnGroup(binary, ['--no-daemon', '--stderr', paths.config], {
      stdio: ['ignore', 'ignore', stderrFd],
    })
  } finally {
    closeSync(stderrFd)
  }
  const unregister = onCleanup(() => stopChild(child))
  const stop = async () => {
    client?.close()
    await stopChild(child)
    unregister()
  }
  let client: MpdClient | undefined
  try {
    client = await connectWhenListening(child, port, paths, timeoutMs)
  } catch (error) {
    await stop()
    throw error
  }
  const pid = child.pid!
  return { pid, client, cpuMs: () => processCpuMs(pid), peakRssMB: () => peakRssMB(pid), stop }
}

async function connectWhenListening(
  child: ChildProcess,
  port: number,
  paths: MpdPaths,
  timeoutMs: number,
): Promise<MpdClient> {
  const start = nowMs()
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new MpdError(
        `mpd exited at start (${child.exitCode ?? child.signalCode}): ${await logTail(paths)}`,
      )
    try {
      return await MpdClient.connect(port)
    } catch (error) {
      if (error instanceof MpdError) throw error
      if (msSince(start) > timeoutMs)
        throw new MpdError(
          `mpd did not listen on port ${port} within ${timeoutMs} ms: ${await logTail(paths)}`,
        )
      await sleep(20)
    }
  }
}

async function logTail(paths: MpdPaths): Promise<string> {
  const text = await readFile(paths.stderrLog, 'utf8').catch(() => '')
  return text.trim().split('\n').slice(-5).join(' | ') || '(no output)'
}

async function peakRssMB(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null)
  const kb = status?.match(/^VmHWM:\s+(\d+) kB/m)?.[1]
  return kb === undefined ? null : Number(kb) / 1024
}

// ---------------------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------------------

/**
 * Sends `update` and polls `status` every `pollMs` until that update job is done. Returns the time
 * from sending the command to seeing it finished (so within about `pollMs` of the truth).
 */
export async function timeUpdate(client: MpdClient, pollMs = 5): Promise<number> {
  const start = nowMs()
  const job = Number((await client.command('update')).get('updating_db'))
  for (;;) {
    const current = (await client.command('status')).get('updating_db')
    if (current === undefined || Number(current) !== job) return msSince(start)
    await sleep(pollMs)
  }
}

/** Waits for whatever update mpd runs by itself (the one it starts when its database is missing). */
export async function waitUntilIdle(client: MpdClient, timeoutMs = 60_000, pollMs = 20): Promise<void> {
  const start = nowMs()
  while ((await client.command('status')).has('updating_db')) {
    if (msSince(start) > timeoutMs) throw new MpdError('mpd kept updating its database')
    await sleep(pollMs)
  }
}

export async function songCount(client: MpdClient): Promise<number> {
  return Number((await client.command('stats')).get('songs'))
}

export interface MpdBenchResult {
  version: string | null
  /** First `update` of the folder into an empty database. */
  updateMs: number
  /** CPU time mpd used for it (10 ms resolution). */
  updateCpuMs: number | null
  /** `update` again with nothing changed, each run. */
  rescanMs: number[]
  rescanCpuMs: Array<number | null>
  songs: number
  peakRssMB: number | null
}

/** mpd's first update of `musicDir` and `rescans` unchanged updates, in a private instance. */
export async function benchMpd(
  binary: string,
  workDir: string,
  musicDir: string,
  emptyDir: string,
  rescans: number,
): Promise<MpdBenchResult> {
  const paths = mpdPaths(workDir)
  await createEmptyDatabase(binary, paths, emptyDir)
  const mpd = await startMpd(binary, paths, musicDir)
  try {
    const before = await songCount(mpd.client)
    if (before !== 0) throw new MpdError(`mpd's database should start empty, it holds ${before} songs`)
    const first = await timeUpdateWithCpu(mpd)
    const songs = await songCount(mpd.client)
    const again: Array<{ ms: number; cpuMs: number | null }> = []
    for (let i = 0; i < rescans; i++) again.push(await timeUpdateWithCpu(mpd))
    return {
      version: await mpdVersion(binary),
      updateMs: first.ms,
      updateCpuMs: first.cpuMs,
      rescanMs: again.map((r) => r.ms),
      rescanCpuMs: again.map((r) => r.cpuMs),
      songs,
      peakRssMB: await mpd.peakRssMB(),
    }
  } finally {
    await mpd.stop()
  }
}

async function timeUpdateWithCpu(mpd: RunningMpd): Promise<{ ms: number; cpuMs: number | null }> {
  const cpuBefore = await mpd.cpuMs()
  const ms = await timeUpdate(mpd.client)
  const cpuAfter = await mpd.cpuMs()
  return { ms, cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore }
}

/** Lets mpd write its own (empty) database file, so that the measured instance starts idle. */
async function createEmptyDatabase(binary: string, paths: MpdPaths, emptyDir: string): Promise<void> {
  const mpd = await startMpd(binary, paths, emptyDir)
  try {
    await waitUntilIdle(mpd.client)
  } finally {
    await mpd.stop()
  }
  const written = await stat(paths.db).catch(() => null)
  if (written === null)
    throw new MpdError(`mpd wrote no database file at ${paths.db}: ${await logTail(paths)}`)
}
