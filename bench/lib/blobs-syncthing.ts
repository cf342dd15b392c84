/**
 * Syncthing (Debian package `syncthing`) as the peer of the blob benchmark: two private instances on
 * 127.0.0.1, one sending a folder and one receiving it, driven through their REST API.
 *
 * Nothing leaves the machine: each instance's config.xml is written before its first start, with the
 * sync protocol listening on tcp://127.0.0.1:<port> only, the GUI/REST API on 127.0.0.1 with an API key,
 * and global discovery, local discovery, relays, NAT traversal (UPnP/NAT-PMP), STUN, usage reporting,
 * crash reporting and automatic upgrades all off. Each knows the other only by an explicit address.
 * `setLowPriority` is off too: by default Syncthing renices itself, which would handicap it against a
 * Cloudless node running at normal priority.
 *
 * The measured transfer: A's folder (send-only, shared with B) is scanned until idle first; the clock
 * starts when B adds the folder (receive-only), i.e. accepts the share, and stops when B's folder is
 * idle with every file in sync.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { onCleanup } from './cleanup.ts'
import { cpuSnapshot, processCpuMs } from './proc-stat.ts'
import { commandOutput, runChecked, runProcess, spawnGroup, stopChild } from './process.ts'
import { endPollDelay, msSince, nowMs, sleep } from './timing.ts'

export class SyncthingError extends Error {
  override name = 'SyncthingError'
}

export async function findSyncthing(): Promise<string | null> {
  const found = await commandOutput('sh', ['-c', 'command -v syncthing'])
  return found?.trim() || null
}

export async function syncthingVersion(binary: string): Promise<string | null> {
  const out = await commandOutput(binary, ['--version'])
  return out?.match(/syncthing (v\S+)/)?.[1] ?? null
}

/**
 * Syncthing's path, installing the Debian package when it is missing and we are root. Returns the binary
 * or a note saying why Syncthing is skipped.
 */
export async function ensureSyncthing(
  log: (line: string) => void,
): Promise<{ binary: string } | { skip: string }> {
  const existing = await findSyncthing()
  if (existing !== null) return { binary: existing }
  if (process.getuid?.() !== 0)
    return { skip: 'syncthing is not installed and we are not root to apt-get it' }
  if ((await commandOutput('sh', ['-c', 'command -v apt-get'])) === null)
    return { skip: 'syncthing is not installed and there is no apt-get' }
  log('syncthing not found: installing the Debian package (apt-get install -y syncthing)…')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () =>
    runProcess('apt-get', ['install', '-y', '--no-install-recommends', 'syncthing'], { env })
  let result = await install()
  if (result.code !== 0) {
    log('apt-get install failed; running apt-get update and trying again…')
    await runProcess('apt-get', ['update'], { env })
    result = await install()
  }
  const binary = await findSyncthing()
  if (result.code !== 0 || binary === null) {
    const tail = result.stderr.trim().split('\n').at(-1) ?? ''
    return { skip: `syncthing could not be installed (apt-get: ${tail})` }
  }
  log(`installed syncthing ${(await syncthingVersion(binary)) ?? ''}`.trimEnd())
  return { binary }
}

/** A free TCP port on 127.0.0.1 (free now; taken again by whoever binds it next). */
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

/** Options set in config.xml before the first start: loopback only, nothing phones home. */
export const LOCKED_DOWN_OPTIONS: Record<string, string> = {
  globalAnnounceEnabled: 'false',
  localAnnounceEnabled: 'false',
  relaysEnabled: 'false',
  natEnabled: 'false',
  urAccepted: '-1',
  autoUpgradeIntervalH: '0',
  crashReportingEnabled: 'false',
  startBrowser: 'false',
  stunKeepaliveStartS: '0',
  announceLANAddresses: 'false',
  restartOnWakeup: 'false',
  setLowPriority: 'false',
}

/** Replaces the text of the one element `<name>…</name>` inside `<options>`; throws if it is not there. */
function setOption(xml: string, name: string, value: string): string {
  const start = xml.indexOf('<options>')
  const end = xml.indexOf('</options>')
  if (start < 0 || end < 0) throw new SyncthingError('config.xml has no <options>')
  const options = xml.slice(start, end)
  const pattern = new RegExp(`<${name}>[^<]*</${name}>`, 'g')
  const matches = options.match(pattern)
  if (matches?.length !== 1)
    throw new SyncthingError(`config.xml has ${matches?.length ?? 0} <${name}> options, expected 1`)
  return xml.slice(0, start) + options.replace(pattern, `<${name}>${value}</${name}>`) + xml.slice(end)
}

function setGui(xml: string, address: string, apiKey: string): string {
  const replaced = xml
    .replace(/<gui enabled="[^"]*" tls="[^"]*"/, '<gui enabled="true" tls="false"')
    .replace(/(<gui [^>]*>[\s\S]*?<address>)[^<]*(<\/address>)/, `$1${address}$2`)
    .replace(/(<gui [^>]*>[\s\S]*?<apikey>)[^<]*(<\/apikey>)/, `$1${apiKey}$2`)
  if (!replaced.includes(`<address>${address}</address>`) || !replaced.includes(`<apikey>${apiKey}</apikey>`))
    throw new SyncthingError('could not set the GUI address and API key in config.xml')
  return replaced
}

export interface FolderStatus {
  state: string
  globalFiles: number
  globalBytes: number
  localFiles: number
  localBytes: number
  inSyncFiles: number
  inSyncBytes: number
  needFiles: number
  needBytes: number
  pullErrors: number
  errors?: number
}

export interface ConnectionStats {
  connected: boolean
  address: string
  inBytesTotal: number
  outBytesTotal: number
}

const START_TIMEOUT_MS = 60_000
const LOG_LIMIT_CHARS = 1_000_000

/** One private Syncthing instance: its home (config, keys, database) in `home`, REST on 127.0.0.1. */
export class SyncthingInstance {
  readonly name: string
  readonly home: string
  readonly guiPort: number
  readonly listenPort: number
  readonly apiKey: string
  deviceId = ''
  log = ''
  #child: ChildProcess | undefined
  #unregister: (() => void) | undefined

  private constructor(name: string, home: string, guiPort: number, listenPort: number, apiKey: string) {
    this.name = name
    this.home = home
    this.guiPort = guiPort
    this.listenPort = listenPort
    this.apiKey = apiKey
  }

  get listenAddress(): string {
    return `tcp://127.0.0.1:${this.listenPort}`
  }

  get pid(): number {
    const pid = this.#child?.pid
    if (pid === undefined) throw new SyncthingError(`syncthing ${this.name} is not running`)
    return pid
  }

  /** Generates keys and a locked-down config in `home`, then starts the instance and waits for REST. */
  static async start(binary: string, name: string, home: string): Promise<SyncthingInstance> {
    await mkdir(home, { recursive: true })
    const [guiPort, listenPort] = [await freePort(), await freePort()]
    const apiKey = `bench-${name}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`
    const env = syncthingEnv(home)
    await runChecked(binary, ['generate', `--home=${home}`, '--no-default-folder', '--skip-port-probing'], {
      env,
    })
    const configPath = join(home, 'config.xml')
    let xml = await readFile(configPath, 'utf8')
    xml = setOption(xml, 'listenAddress', `tcp://127.0.0.1:${listenPort}`)
    for (const [option, value] of Object.entries(LOCKED_DOWN_OPTIONS)) xml = setOption(xml, option, value)
    xml = setGui(xml, `127.0.0.1:${guiPort}`, apiKey)
    await writeFile(configPath, xml)
    const instance = new SyncthingInstance(name, home, guiPort, listenPort, apiKey)
    await instance.#spawn(binary, env)
    return instance
  }

  async #spawn(binary: string, env: NodeJS.ProcessEnv): Promise<void> {
    const child = spawnGroup(
      binary,
      [
        'serve',
        `--home=${this.home}`,
        `--gui-address=http://127.0.0.1:${this.guiPort}`,
        `--gui-apikey=${this.apiKey}`,
        '--no-browser',
        '--no-restart',
        '--no-upgrade',
        '--no-default-folder',
        '--logflags=2',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.#child = child
    this.#unregister = onCleanup(() => this.stop())
    const keep = (chunk: Buffer) => {
      if (this.log.length < LOG_LIMIT_CHARS) this.log += chunk.toString('utf8')
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const deadline = nowMs() + START_TIMEOUT_MS
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new SyncthingError(`syncthing ${this.name} exited while starting:\n${this.logTail()}`)
      try {
        const status = await this.get<{ myID: string }>('/rest/system/status')
        this.deviceId = status.myID
        return
      } catch {
        if (nowMs() > deadline)
          throw new SyncthingError(`syncthing ${this.name} did not answer in ${START_TIMEOUT_MS} ms`)
        await sleep(100)
      }
    }
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.guiPort}${path}`, {
      method,
      headers: {
        'X-API-Key': this.apiKey,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    const text = await response.text()
    if (!response.ok)
      throw new SyncthingError(
        `syncthing ${this.name}: ${method} ${path} → ${response.status} ${text.trim()}`,
      )
    return (text.length > 0 ? JSON.parse(text) : undefined) as T
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path)
  }

  /** Adds `other` as a known device, reachable only at its loopback address. */
  async addDevice(other: SyncthingInstance): Promise<void> {
    await this.request('POST', '/rest/config/devices', {
      deviceID: other.deviceId,
      name: other.name,
      addresses: [other.listenAddress],
      compression: 'metadata',
      autoAcceptFolders: false,
    })
  }

  async addFolder(folder: {
    id: string
    path: string
    type: 'sendonly' | 'receiveonly'
    devices: SyncthingInstance[]
  }): Promise<void> {
    await this.request('POST', '/rest/config/folders', {
      id: folder.id,
      label: folder.id,
      path: folder.path,
      type: folder.type,
      devices: folder.devices.map((d) => ({ deviceID: d.deviceId })),
    })
  }

  folderStatus(folder: string): Promise<FolderStatus> {
    return this.get<FolderStatus>(`/rest/db/status?folder=${encodeURIComponent(folder)}`)
  }

  async connectionTo(other: SyncthingInstance): Promise<ConnectionStats | undefined> {
    const all = await this.get<{ connections: Record<string, ConnectionStats> }>('/rest/system/connections')
    return all.connections[other.deviceId]
  }

  /**
   * CPU time of the instance so far: Syncthing runs as a monitor process and the syncthing process it
   * starts (even with --no-restart, in this version), so the whole process group counts.
   */
  async cpuMs(): Promise<number> {
    let total = 0
    for (const pid of await groupPids(this.pid)) total += (await processCpuMs(pid)) ?? 0
    return total
  }

  async stop(): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#unregister?.()
    this.#unregister = undefined
    this.#child = undefined
    await stopChild(child, 10_000)
  }

  logTail(lines = 20): string {
    return this.log.trim().split('\n').slice(-lines).join('\n')
  }
}

/** Processes of the process group led by `leader` (from /proc). */
async function groupPids(leader: number): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null)
    if (stat === null) continue
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) === leader) pids.push(Number(entry)) // field 5 (pgrp), after pid, comm, state, ppid
  }
  return pids
}

function syncthingEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: home,
    STNOUPGRADE: '1',
    STNODEFAULTFOLDER: '1',
    STNORESTART: '1',
  }
}

/** Polls `probe` every `everyMs` until `done` holds; throws with the last value after `timeoutMs`. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  opts: { everyMs?: number | ((last: T) => number); timeoutMs?: number } = {},
): Promise<T> {
  const deadline = nowMs() + (opts.timeoutMs ?? 60_000)
  let last: T | undefined
  for (;;) {
    last = await probe()
    if (done(last)) return last
    if (nowMs() > deadline)
      throw new SyncthingError(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 500)}`)
    const every = opts.everyMs ?? 50
    await sleep(typeof every === 'number' ? every : every(last))
  }
}

export interface SyncthingTransfer {
  version: string | null
  /** A's initial scan of the folder (from adding it until idle with every file), not part of the transfer. */
  scanMs: number
  /** From B adding the folder until B's folder is idle with every file in sync. */
  transferMs: number
  files: number
  bytes: number
  /** What B received from A over the connection meanwhile (TLS, index and requests included). */
  wireInBytes: number
  cpuMs: { a: number; b: number }
  /** CPU time the whole machine, and this benchmark process, used during the transfer. */
  machineCpu: { busyMs: number; ownMs: number }
  polls: number
  folderA: string
  hardLinked: boolean
  /** Received files whose SHA-256 matched the source (set by the caller after verifying). */
  verifiedFiles?: number
}

/**
 * One transfer of `dataDir` from a fresh sending instance to a fresh receiving one. A's folder is a
 * hard-linked copy of `dataDir` (Syncthing writes a .stfolder marker into a folder it shares), so the
 * data set stays untouched; B receives into an empty folder. Both instances are stopped at the end.
 */
export async function syncthingTransfer(
  binary: string,
  workDir: string,
  dataDir: string,
  expected: { files: number; bytes: number },
  log: (line: string) => void,
  opts: { timeoutMs?: number } = {},
): Promise<{ result: SyncthingTransfer; receivedDir: string; stop: () => Promise<void> }> {
  const folderA = join(workDir, 'a-folder')
  const folderB = join(workDir, 'b-folder')
  let hardLinked = true
  const linked = await runProcess('cp', ['-al', dataDir, folderA])
  if (linked.code !== 0) {
    hardLinked = false
    log(`  cp -al failed (${linked.stderr.trim()}); copying the data set instead`)
    await runChecked('cp', ['-a', dataDir, folderA])
  }
  await mkdir(folderB, { recursive: true })
  const [a, b] = await Promise.all([
    SyncthingInstance.start(binary, 'A', join(workDir, 'home-a')),
    SyncthingInstance.start(binary, 'B', join(workDir, 'home-b')),
  ])
  const stop = async () => {
    await Promise.all([a.stop(), b.stop()])
  }
  try {
    await a.addDevice(b)
    await b.addDevice(a)
    await pollUntil(
      'the two Syncthing instances to connect',
      () => a.connectionTo(b),
      (c) => c?.connected === true,
      { everyMs: 100, timeoutMs: 60_000 },
    )
    const scanStart = nowMs()
    await a.addFolder({ id: 'bench', path: folderA, type: 'sendonly', devices: [a, b] })
    // Syncthing counts 128 bytes for every directory in its byte totals: compare files, not bytes.
    const scanned = await pollUntil(
      "A's scan of its folder",
      () => a.folderStatus('bench'),
      (s) => s.state === 'idle' && s.localFiles === expected.files && s.localBytes >= expected.bytes,
      { everyMs: 50, timeoutMs: 600_000 },
    )
    const scanMs = msSince(scanStart)
    log(`  Syncthing A scanned ${expected.files} files in ${(scanMs / 1000).toFixed(2)} s (not timed below)`)

    const wireBefore = (await b.connectionTo(a))?.inBytesTotal ?? 0
    const cpuBefore = { a: await a.cpuMs(), b: await b.cpuMs() }
    let polls = 0
    const machineBefore = await cpuSnapshot()
    const start = nowMs()
    await b.addFolder({ id: 'bench', path: folderB, type: 'receiveonly', devices: [a, b] })
    // B's count of files in sync comes from its database, which Syncthing updates in batches (every
    // 2 s or 1,000 files): near the end it can stand still, and the polls would not close in. The
    // bytes received so far on the connection tell how near the end is as it happens.
    const { status: final } = await pollUntil(
      "B's folder to hold every file",
      async () => {
        polls++
        const [status, connection] = await Promise.all([b.folderStatus('bench'), b.connectionTo(a)])
        return { status, receivedBytes: (connection?.inBytesTotal ?? wireBefore) - wireBefore }
      },
      ({ status: s }) =>
        s.state === 'idle' &&
        s.globalFiles === expected.files &&
        s.localFiles === expected.files &&
        s.needFiles === 0 &&
        s.needBytes === 0 &&
        s.inSyncBytes === s.globalBytes &&
        s.globalBytes === scanned.globalBytes,
      {
        // As for Cloudless: sparsely while much is left, closely as the end nears; files done as
        // the bytes received say, or as B's count says if that is further.
        everyMs: ({ status, receivedBytes }) => {
          const byBytes = Math.floor((Math.min(1, receivedBytes / expected.bytes) || 0) * expected.files)
          return endPollDelay(msSince(start), Math.max(status.inSyncFiles, byBytes), expected.files)
        },
        timeoutMs: opts.timeoutMs ?? 900_000,
      },
    )
    const transferMs = msSince(start)
    const machineAfter = await cpuSnapshot()
    const cpuAfter = { a: await a.cpuMs(), b: await b.cpuMs() }
    const wireAfter = (await b.connectionTo(a))?.inBytesTotal ?? Number.NaN
    if (final.pullErrors > 0) log(`  Syncthing B reported ${final.pullErrors} pull errors`)
    return {
      result: {
        version: await syncthingVersion(binary),
        scanMs,
        transferMs,
        files: final.localFiles,
        bytes: expected.bytes,
        wireInBytes: wireAfter - wireBefore,
        cpuMs: { a: cpuAfter.a - cpuBefore.a, b: cpuAfter.b - cpuBefore.b },
        machineCpu: {
          busyMs: machineAfter.machineBusyMs - machineBefore.machineBusyMs,
          ownMs: machineAfter.ownMs - machineBefore.ownMs,
        },
        polls,
        folderA,
        hardLinked,
      },
      receivedDir: folderB,
      stop,
    }
  } catch (error) {
    const logs = `\n--- syncthing A log:\n${a.logTail()}\n--- syncthing B log:\n${b.logTail()}`
    await stop()
    if (error instanceof Error) error.message += logs
    throw error
  }
}
