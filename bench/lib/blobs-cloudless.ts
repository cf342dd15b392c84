/**
 * The Cloudless side of the blob benchmark, on real `cloudless start` processes (BenchNode from
 * sync-nodes.ts: own home, free ports on 127.0.0.1, mDNS off):
 *
 * - mirror: A scans a data set (before any clock runs) and starts; B starts on an empty home and joins A
 *   (invite/join). Timed: from `mirror on` on B until B's cache op shows every track complete and nothing
 *   fetching, polled through B's HTTP API. Then every blob in B's cache is compared with A's file by
 *   SHA-256, and a sample is read back through B's /stream.
 * - stream latency: A holds the 30 MB FLAC variants, B none. Through B's /stream: time to the first byte
 *   of a cold track (never fetched: the manifest comes from A too) and of a seek (a Range request into a
 *   region of that track not fetched yet), then the same requests again, now cached (warm).
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import type { TrackView } from '../../src/crdt/index.ts'
import type { CacheStatus } from '../../src/node/ops/media-ops.ts'
import type { InviteResult, JoinResult } from '../../src/node/ops/network-ops.ts'
import type { ScanReport } from '../../src/node/scanner/scanner.ts'
import type { DataSet } from './blobs-data.ts'
import { tempDir } from './cleanup.ts'
import { cpuSnapshot } from './proc-stat.ts'
import { BenchNode } from './sync-nodes.ts'
import { endPollDelay, median, msSince, nowMs, sleep } from './timing.ts'

export class CloudlessBenchError extends Error {
  override name = 'CloudlessBenchError'
}

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Runs `fn` over `items`, `limit` at a time. */
export async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

export interface PairedNodes {
  a: BenchNode
  b: BenchNode
  /** Where the nodes' logs are written when they are disposed of (if a folder was given). */
  logFiles: string[]
  scan: ScanReport
  /** Tracks as B sees them after the join. */
  tracks: TrackView[]
  joinMs: number
  dispose: () => Promise<void>
}

/**
 * A scans `dataDir` (not timed), both start, B joins A. `env` adds environment variables to one node's
 * process only (e.g. NODE_OPTIONS=--cpu-prof).
 */
export async function pairedNodes(
  dataDir: string,
  expectedTracks: number,
  log: (line: string) => void,
  env: { a?: Record<string, string>; b?: Record<string, string> } = {},
  logDir?: string,
): Promise<PairedNodes> {
  const homeA = await tempDir('blobs-a')
  const homeB = await tempDir('blobs-b')
  const a = new BenchNode('A', homeA.path)
  const b = new BenchNode('B', homeB.path)
  const logFiles = logDir === undefined ? [] : [join(logDir, 'A.log'), join(logDir, 'B.log')]
  let disposed = false
  const dispose = async () => {
    if (disposed) return
    disposed = true
    await Promise.all([a.stop(), b.stop()])
    if (logDir !== undefined) {
      await mkdir(logDir, { recursive: true })
      for (const [node, file] of [a, b].map((n, i) => [n, logFiles[i]!] as const)) {
        const end = `\n--- ${node.name} exited: code ${node.exitCode}, signal ${node.exitSignal}\n`
        await writeFile(file, node.log + end)
      }
    }
    // The homes stay until the benchmark exits (see KEEP_UNTIL_EXIT in bench/blobs.ts).
  }
  try {
    const scanStart = nowMs()
    const { value: scan } = await a.cliJson<ScanReport>(['scan', dataDir])
    log(
      `  Cloudless A scanned ${scan.files} files into ${scan.tracks} tracks in ${(msSince(scanStart) / 1000).toFixed(2)} s ` +
        `(CLI process; not timed below)${scan.skipped.length > 0 ? `; skipped ${scan.skipped.length}` : ''}`,
    )
    if (scan.tracks !== expectedTracks) {
      const why = scan.skipped
        .slice(0, 5)
        .map((s) => JSON.stringify(s))
        .join('; ')
      throw new CloudlessBenchError(
        `A's scan found ${scan.tracks} tracks, expected ${expectedTracks}: ${why}`,
      )
    }
    await withEnv(env.a ?? {}, () => a.start())
    await withEnv(env.b ?? {}, () => b.start())
    const { value: invite } = await a.cliJson<InviteResult>(['invite'])
    const { value: joined } = await b.cliJson<JoinResult>(['join', invite.link])
    const tracks = await b.op<TrackView[]>('tracks', {})
    if (tracks.length !== expectedTracks)
      throw new CloudlessBenchError(
        `B lists ${tracks.length} tracks after joining, expected ${expectedTracks}`,
      )
    return { a, b, logFiles, scan, tracks, joinMs: joined.syncMs, dispose }
  } catch (error) {
    const logs = `\n--- A's log:\n${a.logTail()}\n--- B's log:\n${b.logTail()}`
    await dispose()
    if (error instanceof Error) error.message += logs
    throw error
  }
}

/** How the nodes ended and the end of their logs, for an error message. */
function nodeFacts(nodes: PairedNodes): string {
  return (
    [nodes.a, nodes.b]
      .map(
        (n) =>
          `\n--- ${n.name}: ${n.running ? 'running' : `exited (code ${n.exitCode}, signal ${n.exitSignal})`}; log tail:\n${n.logTail(12)}`,
      )
      .join('') + (nodes.logFiles.length > 0 ? `\n(full logs: ${nodes.logFiles.join(', ')})` : '')
  )
}

/** Runs `fn` with extra environment variables (BenchNode passes process.env to the node it spawns). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}

/** NODE_OPTIONS that make a node write a V8 CPU profile into `dir` when it exits. */
export function cpuProfileEnv(dir: string): Record<string, string> {
  const inherited = process.env.NODE_OPTIONS ?? ''
  return { NODE_OPTIONS: `${inherited} --cpu-prof --cpu-prof-dir=${dir}`.trim() }
}

// ---------------------------------------------------------------------------------------------------------
// Mirror
// ---------------------------------------------------------------------------------------------------------

export interface MirrorRun {
  /** From the mirror op's request until the cache op showed every track complete, nothing fetching. */
  transferMs: number
  /** The mirror op's own round trip (it pins every track and queues the fetches). */
  mirrorOpMs: number
  tracks: number
  bytes: number
  cpuMs: { a: number; b: number }
  /** CPU time the whole machine, and this benchmark process, used during the transfer. */
  machineCpu: { busyMs: number; ownMs: number }
  polls: number
  /** Round trip of one cache op (B's status poll), median over the run. */
  pollMedianMs: number
  verify: {
    blobsHashed: number
    blobsMatching: number
    streamed: number
    streamedMatching: number
    ms: number
  }
  /** Cache polls that failed and were tried again (B's HTTP API did not answer). */
  pollErrors: string[]
  /** Blobs whose fetch failed at some point (the node retries them by itself), by kind of error. */
  failures: { blobs: number; errors: Record<string, number> }
  /** Peak resident memory (VmHWM) of A and B when the transfer ended, in MiB (since each started). */
  peakRssMB: { a: number; b: number }
  profile?: string
}

/**
 * B's cache op; a request that fails (a connection reset, say) is tried again, up to 5 times in ~2 s,
 * unless B has exited. Failures are noted in `pollErrors`.
 */
async function pollCache(b: BenchNode, pollErrors: string[]): Promise<CacheStatus> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await b.op<CacheStatus>('cache', {})
    } catch (error) {
      pollErrors.push((error as Error).message)
      if (attempt >= 5 || !b.running) throw error
      await sleep(400)
    }
  }
}

/** A short class of a fetch error message, for counting. */
function errorKind(message: string): string {
  if (/already serving \d+ streams|busy/i.test(message)) return 'busy'
  return message.replace(/[a-z2-7]{52}|[a-z2-7]{10}|12D3Koo\w+|\w{8}:/g, '…').slice(0, 120)
}

/**
 * One mirror of `data` from a fresh A to a fresh B. `sourceHashes` maps A's file paths to their SHA-256
 * (computed once by the caller). With `profileDir`, B runs with --cpu-prof into that folder.
 */
export async function cloudlessMirror(
  data: DataSet,
  sourceHashes: Map<string, string>,
  log: (line: string) => void,
  opts: { profileDir?: string; logDir?: string; timeoutMs?: number; streamSample?: number } = {},
): Promise<MirrorRun> {
  const env =
    opts.profileDir === undefined
      ? {}
      : { a: cpuProfileEnv(join(opts.profileDir, 'A')), b: cpuProfileEnv(join(opts.profileDir, 'B')) }
  const nodes = await pairedNodes(data.dir, data.files, log, env, opts.logDir)
  const { a, b, tracks } = nodes
  try {
    const bytes = tracks.reduce((sum, t) => sum + t.size, 0)
    const cpuBefore = { a: await a.cpuMs(), b: await b.cpuMs() }
    const machineBefore = await cpuSnapshot()
    const pollTimes: number[] = []
    const start = nowMs()
    await b.op<{ mirror: boolean; queued: number }>('mirror', { on: true })
    const mirrorOpMs = msSince(start)
    const deadline = start + (opts.timeoutMs ?? 900_000)
    // A fetch that failed stays listed as 'failed' until the node tries it again (by itself, every
    // 30 s): note each failed blob once, with the kind of error, and keep waiting.
    const failures: MirrorRun['failures'] = { blobs: 0, errors: {} }
    const failedSeen = new Set<string>()
    const pollErrors: string[] = []
    let last: CacheStatus | undefined
    for (;;) {
      const pollStart = nowMs()
      last = await pollCache(b, pollErrors)
      pollTimes.push(msSince(pollStart))
      const complete = last.pins.find((p) => p.label === 'mirror')?.complete ?? 0
      if (last.fetching.length === 0 && last.queued.files === 0 && complete === tracks.length) break
      for (const f of last.fetching) {
        if (f.state !== 'failed' || failedSeen.has(f.contentId)) continue
        failedSeen.add(f.contentId)
        failures.blobs++
        const kind = errorKind(f.error ?? 'unknown')
        failures.errors[kind] = (failures.errors[kind] ?? 0) + 1
      }
      // Poll sparsely while much is left (each poll costs B a few ms: it lists every pin), closely
      // as the end nears (B counts complete tracks afresh at each poll).
      const pollDelay = endPollDelay(msSince(start), complete, tracks.length)
      if (nowMs() > deadline)
        throw new CloudlessBenchError(
          `the mirror did not complete; last cache status: ${JSON.stringify({ ...last, fetching: last.fetching.length })}`,
        )
      await sleep(pollDelay)
    }
    const transferMs = msSince(start)
    const machineAfter = await cpuSnapshot()
    const cpuAfter = { a: await a.cpuMs(), b: await b.cpuMs() }
    const peakRssMB = { a: (await a.memory()).hwmMB, b: (await b.memory()).hwmMB }
    log(
      `  Cloudless mirrored ${tracks.length} tracks in ${(transferMs / 1000).toFixed(2)} s` +
        (failures.blobs > 0
          ? ` (${failures.blobs} blobs failed at first: ${JSON.stringify(failures.errors)})`
          : '') +
        `; peak RSS A ${peakRssMB.a.toFixed(0)} MiB, B ${peakRssMB.b.toFixed(0)} MiB`,
    )
    const verify = await verifyMirror(nodes, sourceHashes, opts.streamSample ?? 20)
    if (verify.blobsMatching !== tracks.length || verify.streamedMatching !== verify.streamed)
      throw new CloudlessBenchError(
        `verification failed: ${verify.blobsMatching}/${tracks.length} cached blobs and ` +
          `${verify.streamedMatching}/${verify.streamed} streamed tracks match A's files`,
      )
    return {
      transferMs,
      mirrorOpMs,
      tracks: tracks.length,
      bytes,
      cpuMs: { a: cpuAfter.a - cpuBefore.a, b: cpuAfter.b - cpuBefore.b },
      machineCpu: {
        busyMs: machineAfter.machineBusyMs - machineBefore.machineBusyMs,
        ownMs: machineAfter.ownMs - machineBefore.ownMs,
      },
      polls: pollTimes.length,
      pollMedianMs: median(pollTimes),
      verify,
      failures,
      pollErrors,
      peakRssMB,
      ...(opts.profileDir === undefined ? {} : { profile: opts.profileDir }),
    }
  } catch (error) {
    await nodes.dispose()
    if (error instanceof Error) error.message += nodeFacts(nodes)
    throw error
  } finally {
    await nodes.dispose()
  }
}

/** Every blob in B's cache against A's file (SHA-256), and a sample read back through B's /stream. */
async function verifyMirror(
  nodes: PairedNodes,
  sourceHashes: Map<string, string>,
  sample: number,
): Promise<MirrorRun['verify']> {
  const start = nowMs()
  const { a, b, tracks } = nodes
  const aId = a.description!.peerId
  const sourceOf = (t: TrackView) => {
    const path = t.locations.find((l) => l.device === aId)?.path
    const hash = path === undefined ? undefined : sourceHashes.get(path)
    if (hash === undefined) throw new CloudlessBenchError(`no source hash for ${t.title} (${path})`)
    return hash
  }
  let blobsMatching = 0
  await forEachLimited(tracks, 4, async (t) => {
    // The cache's layout (src/blobs/cache/layout.ts): a complete blob is blobs/<id[0..2]>/<id>.blob.
    const blob = join(b.home, 'cache', 'blobs', t.contentId.slice(0, 2), `${t.contentId}.blob`)
    const hash = await sha256File(blob).catch(() => null)
    if (hash === sourceOf(t)) blobsMatching++
  })
  const step = Math.max(1, Math.floor(tracks.length / sample))
  const picked = tracks.filter((_, i) => i % step === 0).slice(0, sample)
  let streamedMatching = 0
  for (const t of picked) {
    const response = await fetch(`${b.info!.httpUrl}/stream/${t.id}`)
    const hash = createHash('sha256')
      .update(new Uint8Array(await response.arrayBuffer()))
      .digest('hex')
    if (response.status === 200 && hash === sourceOf(t)) streamedMatching++
  }
  return {
    blobsHashed: tracks.length,
    blobsMatching,
    streamed: picked.length,
    streamedMatching,
    ms: msSince(start),
  }
}

// ---------------------------------------------------------------------------------------------------------
// First byte and seek
// ---------------------------------------------------------------------------------------------------------

export interface FirstByte {
  /** Until the response headers arrived. */
  headersMs: number
  /** Until the first byte of the body arrived. */
  firstByteMs: number
  status: number
}

/** GET `url` (with an optional Range) and time the first body byte; then drop the response. */
export function timeFirstByte(url: string, range?: string): Promise<FirstByte> {
  return new Promise((resolve, reject) => {
    const start = nowMs()
    const req = request(url, { agent: false, headers: range === undefined ? {} : { range } }, (res) => {
      const headersMs = msSince(start)
      res.once('data', () => {
        const firstByteMs = msSince(start)
        res.destroy()
        resolve({ headersMs, firstByteMs, status: res.statusCode ?? 0 })
      })
      res.once('end', () => reject(new CloudlessBenchError(`${url}: the response had no body`)))
      res.once('error', () => {})
    })
    req.once('error', reject)
    req.setTimeout(30_000, () => req.destroy(new CloudlessBenchError(`${url}: no answer in 30 s`)))
    req.end()
  })
}

export interface LatencySample extends FirstByte {
  track: string
  offset: number
}

export interface StreamLatency {
  trackBytes: number
  tracks: number
  coldFirstByte: LatencySample[]
  coldSeek: LatencySample[]
  warmFirstByte: LatencySample[]
  warmSeek: LatencySample[]
  /** CPU time of A, B, the whole machine and this process while the samples were taken. */
  cpuMs: { a: number; b: number; busy: number; own: number; wallMs: number }
}

/** Pause between requests, so that an abandoned fetch does not overlap the next measurement. */
const SETTLE_MS = 300

/**
 * For each FLAC variant (a track B never fetched): a cold GET from byte 0, then seeks into regions not
 * fetched yet (the middle, and three quarters in); then the same requests again, warm.
 */
export async function cloudlessStreamLatency(
  data: DataSet,
  log: (line: string) => void,
  logDir?: string,
): Promise<StreamLatency> {
  const nodes = await pairedNodes(data.dir, data.files, log, {}, logDir)
  const { b, tracks } = nodes
  try {
    const url = (t: TrackView) => `${b.info!.httpUrl}/stream/${t.id}`
    const sorted = [...tracks].sort((x, y) => x.title.localeCompare(y.title))
    const out: StreamLatency = {
      trackBytes: sorted[0]!.size,
      tracks: sorted.length,
      coldFirstByte: [],
      coldSeek: [],
      warmFirstByte: [],
      warmSeek: [],
      cpuMs: { a: 0, b: 0, busy: 0, own: 0, wallMs: 0 },
    }
    const cpuBefore = { a: await nodes.a.cpuMs(), b: await b.cpuMs(), machine: await cpuSnapshot() }
    const started = nowMs()
    // Seek targets a little past a block boundary (256 KiB blocks), as a player's byte offsets are.
    const seekOffsets = (t: TrackView) => [Math.floor(t.size / 2) + 1000, Math.floor(t.size * 0.75) + 1000]
    const sample = async (t: TrackView, offset: number): Promise<LatencySample> => {
      const timing = await timeFirstByte(url(t), offset === 0 ? undefined : `bytes=${offset}-`)
      const expected = offset === 0 ? 200 : 206
      if (timing.status !== expected)
        throw new CloudlessBenchError(`${t.title} at ${offset}: HTTP ${timing.status}, expected ${expected}`)
      await sleep(SETTLE_MS)
      return { ...timing, track: t.title, offset }
    }
    for (const t of sorted) {
      out.coldFirstByte.push(await sample(t, 0))
      for (const offset of seekOffsets(t)) out.coldSeek.push(await sample(t, offset))
    }
    for (const t of sorted) {
      out.warmFirstByte.push(await sample(t, 0))
      for (const offset of seekOffsets(t)) out.warmSeek.push(await sample(t, offset))
    }
    const machine = await cpuSnapshot()
    out.cpuMs = {
      a: (await nodes.a.cpuMs()) - cpuBefore.a,
      b: (await b.cpuMs()) - cpuBefore.b,
      busy: machine.machineBusyMs - cpuBefore.machine.machineBusyMs,
      own: machine.ownMs - cpuBefore.machine.ownMs,
      wallMs: msSince(started),
    }
    return out
  } catch (error) {
    await nodes.dispose()
    if (error instanceof Error) error.message += nodeFacts(nodes)
    throw error
  } finally {
    await nodes.dispose()
  }
}

export interface PlayWhileMirroring {
  /** First byte of tracks at the end of the mirror's queue (fetched by the mirror last), asked while it runs. */
  samples: LatencySample[]
  /** Tracks B had complete when sampling began and ended (the mirror ran throughout if the last is below the total). */
  completeAtStart: number
  completeAtEnd: number
  tracks: number
}

/** Time between a sample's answer and the next request. */
const PLAY_INTERVAL_MS = 300
/** The mirror runs this long before the first sample, to be at full speed. */
const PLAY_AFTER_MS = 1000

/**
 * What a listener meets who presses play on B while B mirrors A's library: B starts `mirror on`, and
 * once it runs at full speed, `samples` GETs of B's /stream ask for tracks the mirror fetches last
 * (the mirror takes the library in the order `tracks` lists it), each timed to its first byte. Not
 * timed as a mirror: the nodes are stopped when the samples are in.
 */
export async function cloudlessPlayWhileMirroring(
  data: DataSet,
  log: (line: string) => void,
  logDir: string | undefined,
  samples = 8,
): Promise<PlayWhileMirroring> {
  const nodes = await pairedNodes(data.dir, data.files, log, {}, logDir)
  const { b, tracks } = nodes
  const complete = async () => (await pollCache(b, [])).pins.find((p) => p.label === 'mirror')?.complete ?? 0
  try {
    await b.op('mirror', { on: true })
    await sleep(PLAY_AFTER_MS)
    const completeAtStart = await complete()
    const out: LatencySample[] = []
    // Every 7th track from the end: none the mirror has reached yet, none another sample fetched.
    for (let k = 0; k < samples; k++) {
      const t = tracks[tracks.length - 1 - k * 7]!
      const timing = await timeFirstByte(`${b.info!.httpUrl}/stream/${t.id}`)
      if (timing.status !== 200)
        throw new CloudlessBenchError(`${t.title}: HTTP ${timing.status}, expected 200`)
      out.push({ ...timing, track: t.title, offset: 0 })
      await sleep(PLAY_INTERVAL_MS)
    }
    const completeAtEnd = await complete()
    log(
      `  first byte while B mirrors: ${out.map((s) => s.firstByteMs.toFixed(1)).join(', ')} ms ` +
        `(B had ${completeAtStart} then ${completeAtEnd} of ${tracks.length} tracks)`,
    )
    return { samples: out, completeAtStart, completeAtEnd, tracks: tracks.length }
  } catch (error) {
    await nodes.dispose()
    if (error instanceof Error) error.message += nodeFacts(nodes)
    throw error
  } finally {
    await nodes.dispose()
  }
}
