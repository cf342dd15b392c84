import { type ChildProcess, spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { createInterface } from 'node:readline'
import { CLI, type CliResult, runCli } from './cli.ts'
import { tempDir } from './fixtures.ts'

export interface NodeDescription {
  peerId: string
  name: string
  libraryId: string
  addresses: string[]
  http: string
  pid: number
}

/**
 * A real `cloudless start` in its own OS process, on its own home dir, listening on free ports of
 * 127.0.0.1 (mDNS off, so tests see only the devices they connect on purpose).
 */
export class NodeProcess {
  readonly home: string
  readonly name: string
  child: ChildProcess | undefined
  description: NodeDescription | undefined
  log = ''

  private constructor(home: string, name: string) {
    this.home = home
    this.name = name
  }

  static async create(name: string): Promise<NodeProcess> {
    return new NodeProcess(await tempDir(`node-${name}`), name)
  }

  get peerId(): string {
    if (this.description === undefined) throw new Error(`${this.name} has not started`)
    return this.description.peerId
  }

  /** `nodeArgs` go to Node before the CLI (e.g. `--import` of a test helper). */
  async start(extraArgs: string[] = [], nodeArgs: string[] = []): Promise<NodeDescription> {
    const args = [...nodeArgs, CLI, 'start', '--json', '--home', this.home, '--name', this.name]
    const ports = ['--tcp-port', '0', '--ws-port', '0', '--webrtc-port', '0', '--http-port', '0']
    const child = spawn(
      process.execPath,
      [...args, ...ports, '--listen-host', '127.0.0.1', '--no-mdns', '--log-level', 'debug', ...extraArgs],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    this.child = child
    child.stderr?.on('data', (d) => {
      this.log += d
    })
    const firstLine = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! })
      lines.once('line', resolve)
      child.once('exit', (code) =>
        reject(new Error(`${this.name} exited with ${code} before it started:\n${this.log}`)),
      )
    })
    try {
      this.description = JSON.parse(firstLine) as NodeDescription
    } catch (error) {
      // `start --json` must print its description first: show what came instead, and the log.
      throw new Error(
        `${this.name} printed ${JSON.stringify(firstLine.slice(0, 300))} first, not its JSON description ` +
          `(${(error as Error).message}); its log:\n${this.log}`,
      )
    }
    return this.description
  }

  /** Stops the node the way a user does (SIGTERM) and waits for a clean exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child
    if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill(signal)
    const code = await exited
    this.child = undefined
    if (code === null && signal === 'SIGTERM') {
      // Died of a signal instead of exiting: say which, with the end of its log, to find out why.
      process.stderr.write(
        `${this.name} died of ${child.signalCode}; its log ends:\n${this.log.split('\n').slice(-25).join('\n')}\n`,
      )
    }
    return code
  }

  cli(args: string[]): Promise<CliResult> {
    return runCli([...args, '--home', this.home])
  }

  async cliJson<T>(args: string[]): Promise<T> {
    const result = await this.cli([...args, '--json'])
    if (result.code !== 0)
      throw new Error(`cloudless ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
    return JSON.parse(result.stdout) as T
  }

  async dispose(): Promise<void> {
    await this.stop('SIGKILL').catch(() => {})
    await fs.rm(this.home, { recursive: true, force: true })
  }
}
