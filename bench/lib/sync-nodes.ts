/**
 * Real `cloudless start` processes for the sync benchmark, each on its own home, listening on free
 * ports of 127.0.0.1 with mDNS off (as test/helpers/node-process.ts does), registered for cleanup so
 * that an error or Ctrl+C never leaves one running. Also: CLI commands against a node's home, ops
 * through its local HTTP API, and the node's memory and CPU time from /proc.
 */
import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { callNodeOp, findRunningNode } from '../../src/node/control/client.ts'
import type { NodeInfo } from '../../src/node/control/node-info.ts'
import { onCleanup } from './cleanup.ts'
import { processCpuMs } from './proc-stat.ts'
import { type RunResult, runProcess, spawnGroup, stopChild } from './process.ts'
import { msSince, nowMs } from './timing.ts'

export const CLI = new URL('../../bin/cloudless.js', import.meta.url).pathname

/** What `cloudless start --json` prints on its first line. */
export interface NodeDescription {
  peerId: string
  name: string
  libraryId: string
  addresses: string[]
  http: string
  pid: number
}

/** Resident memory of a process from /proc/<pid>/status, in MiB. */
export interface Memory {
  /** Resident now. */
  rssMB: number
  /** The most it was resident so far (high-water mark). */
  hwmMB: number
}

export class NodeStartError extends Error {
  override name = 'NodeStartError'
}

/** How long a node may take to print its description (it loads its whole catalog first). */
const START_TIMEOUT_MS = 120_000
/** SIGTERM, then SIGKILL after this: a node flushes and compacts its catalog when it stops. */
const STOP_GRACE_MS = 15_000
/** Keep this much of a node's stderr (its log) for error messages and the log file. */
const LOG_LIMIT_CHARS = 2_000_000

export class BenchNode {
  readonly name: string
  readonly home: string
  description: NodeDescription | undefined
  info: NodeInfo | undefined
  /** Wall time from spawn to the description line (process start, catalog load, libp2p, HTTP). */
  startMs = Number.NaN
  exitCode: number | null = null
  exitSignal: NodeJS.Signals | null = null
  log = ''
  #child: ChildProcess | undefined
  #unregister: (() => void) | undefined

  constructor(name: string, home: string) {
    this.name = name
    this.home = home
  }

  get pid(): number {
    const pid = this.#child?.pid
    if (pid === undefined) throw new Error(`${this.name} is not running`)
    return pid
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }

  async start(extraArgs: string[] = []): Promise<NodeDescription> {
    const args = [CLI, 'start', '--json', '--home', this.home, '--name', this.name]
    const ports = ['--tcp-port', '0', '--ws-port', '0', '--webrtc-port', '0', '--http-port', '0']
    const start = nowMs()
    // BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the nodes (written when they stop).
    const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)
    const child = spawnGroup(
      process.execPath,
      [...nodeFlags, ...args, ...ports, '--listen-host', '127.0.0.1', '--no-mdns', ...extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.#child = child
    this.#unregister = onCleanup(() => this.stop())
    child.stderr?.on('data', (chunk: Buffer) => {
      if (this.log.length < LOG_LIMIT_CHARS) this.log += chunk.toString('utf8')
    })
    child.once('exit', (code, signal) => {
      this.exitCode = code
      this.exitSignal = signal
    })
    const firstLine = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! })
      const timer = setTimeout(
        () => reject(new NodeStartError(`${this.name} printed nothing in ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      )
      lines.once('line', (line) => {
        clearTimeout(timer)
        resolve(line)
      })
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(
          new NodeStartError(`${this.name} exited (${code ?? signal}) before it started:\n${this.logTail()}`),
        )
      })
    })
    this.startMs = msSince(start)
    this.description = JSON.parse(firstLine) as NodeDescription
    this.info = await findRunningNode(this.home)
    if (this.info === undefined) throw new NodeStartError(`${this.name} started but wrote no node.json`)
    return this.description
  }

  /** Stops the node as a user does (SIGTERM), SIGKILL if it hangs; notes how it exited. */
  async stop(): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#unregister?.()
    this.#unregister = undefined
    await stopChild(child, STOP_GRACE_MS)
    this.exitCode = child.exitCode
    this.exitSignal = child.signalCode
  }

  /** Runs an op inside the node through its HTTP API (what the CLI does, minus the CLI process). */
  op<R>(name: string, args: unknown, signal?: AbortSignal): Promise<R> {
    if (this.info === undefined) throw new Error(`${this.name} is not running`)
    return callNodeOp<R>(this.info, name, args, signal)
  }

  /** Runs a CLI command on this node's home; the returned run says how long the whole process took. */
  cli(args: string[]): Promise<RunResult> {
    return runProcess(process.execPath, [CLI, ...args, '--home', this.home])
  }

  /** Like cli, with --json; a non-zero exit is an error. */
  async cliJson<T>(args: string[]): Promise<{ value: T; run: RunResult }> {
    const run = await this.cli([...args, '--json'])
    if (run.code !== 0) {
      throw new Error(
        `cloudless ${args.join(' ')} on ${this.name} exited with ${run.code ?? run.signal}: ${run.stderr.trim()}`,
      )
    }
    return { value: JSON.parse(run.stdout) as T, run }
  }

  async memory(): Promise<Memory> {
    return readMemory(this.pid)
  }

  async cpuMs(): Promise<number> {
    return (await processCpuMs(this.pid)) ?? Number.NaN
  }

  logTail(lines = 20): string {
    return this.log.trim().split('\n').slice(-lines).join('\n')
  }
}

export async function readMemory(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kB = (field: string): number => {
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm'))
    if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`)
    return Number(match[1])
  }
  return { rssMB: kB('VmRSS') / 1024, hwmMB: kB('VmHWM') / 1024 }
}
