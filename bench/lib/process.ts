/**
 * Child processes for benchmarks: run to completion (timed, output captured) or keep running (servers).
 * Every child is registered for cleanup, so an error or Ctrl+C never leaves one behind.
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { onCleanup } from './cleanup.ts'
import { msSince, nowMs } from './timing.ts'

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Wrap the command in GNU time to learn its peak RSS and CPU time (descendants included). */
  measureRusage?: boolean
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** From spawn() to the exit event, as seen from here (process start included). */
  wallMs: number
  /** Peak resident set size in MB when `measureRusage` was asked and GNU time exists. */
  maxRssMB: number | null
  /** User + system CPU time in ms, likewise. */
  cpuMs: number | null
}

export class ProcessFailedError extends Error {
  override name = 'ProcessFailedError'
}

const GNU_TIME = '/usr/bin/time'
const RUSAGE_MARK = 'BENCH_RUSAGE='

export function hasGnuTime(): boolean {
  return existsSync(GNU_TIME)
}

const groupLeaders = new WeakSet<ChildProcess>()

/**
 * Kills the child (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. A child started with
 * `detached: true` leads its own process group, and the whole group is signalled: GNU time and bash do
 * not pass SIGTERM on to what they run.
 */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined && groupLeaders.has(child)) process.kill(-child.pid, sig)
      else child.kill(sig)
    } catch {
      child.kill(sig)
    }
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => signal('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    signal('SIGTERM')
  })
}

/** Spawns `command` as the leader of a new process group, so that stopChild reaches its descendants. */
export function spawnGroup(
  command: string,
  args: string[],
  options: Omit<SpawnOptions, 'detached'> = {},
): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true })
  groupLeaders.add(child)
  return child
}

/** Runs a command to completion and captures its output; it never throws for a non-zero exit. */
export function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const wrap = options.measureRusage === true && hasGnuTime()
  const [cmd, argv] = wrap ? [GNU_TIME, ['-f', `${RUSAGE_MARK}%M %U %S`, command, ...args]] : [command, args]
  return new Promise((resolve, reject) => {
    const start = nowMs()
    const child = spawnGroup(cmd, argv, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const unregister = onCleanup(() => stopChild(child))
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.once('error', (error) => {
      unregister()
      reject(error)
    })
    child.once('close', (code, signal) => {
      const wallMs = msSince(start)
      unregister()
      const { text, maxRssMB, cpuMs } = splitRusageMark(Buffer.concat(stderr).toString('utf8'))
      const out = Buffer.concat(stdout).toString('utf8')
      resolve({ code, signal, stdout: out, stderr: text, wallMs, maxRssMB, cpuMs })
    })
  })
}

/** Like runProcess, but a non-zero exit is an error that quotes the end of stderr. */
export async function runChecked(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await runProcess(command, args, options)
  if (result.code !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-15).join('\n')
    throw new ProcessFailedError(
      `${command} ${args.join(' ')} exited with ${result.code ?? result.signal}${tail ? `:\n${tail}` : ''}`,
    )
  }
  return result
}

/** Runs a TypeScript file on this Node (type stripping) and parses the last stdout line as JSON. */
export async function runNodeJson<T>(
  script: string,
  args: string[],
  options: RunOptions = {},
): Promise<{ value: T; run: RunResult }> {
  const run = await runChecked(process.execPath, [script, ...args], options)
  const lastLine = run.stdout.trim().split('\n').at(-1) ?? ''
  try {
    return { value: JSON.parse(lastLine) as T, run }
  } catch {
    throw new ProcessFailedError(`${script} printed no JSON result; its output ended with: ${lastLine}`)
  }
}

/** Runs a shell pipeline with bash (pipefail on). */
export function runShell(script: string, options: RunOptions = {}): Promise<RunResult> {
  return runChecked('bash', ['-o', 'pipefail', '-c', script], options)
}

/** Quotes a string for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** The stdout of a short command, or null if it fails or does not exist. */
export function commandOutput(command: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (error, stdout) => resolve(error ? null : stdout))
  })
}

function splitRusageMark(stderr: string): { text: string; maxRssMB: number | null; cpuMs: number | null } {
  const at = stderr.lastIndexOf(RUSAGE_MARK)
  if (at < 0) return { text: stderr, maxRssMB: null, cpuMs: null }
  const [kb, user, system] = stderr
    .slice(at + RUSAGE_MARK.length)
    .trim()
    .split(' ')
    .map((field) => Number(field))
  const known = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n)
  return {
    text: stderr.slice(0, at),
    maxRssMB: known(kb) ? kb / 1024 : null,
    cpuMs: known(user) && known(system) ? (user + system) * 1000 : null,
  }
}
