/**
 * The sync benchmark (issue 3): three devices, each a real `cloudless start` process on 127.0.0.1.
 *
 *   npm run bench:sync -- [--catalog 100000] [--edits 200] [--json]
 *
 * 1. a home whose catalog holds --catalog synthetic tracks, each with a location on that device (built once
 *    into .bench/sync-home-<N> by bench/lib/catalog-child.ts and reused; every run works on a copy)
 * 2. node A starts on a copy of it, B and C on empty homes
 * 3. `cloudless invite --json` on A, then `cloudless join <link> --json` on B: the join op's own time (from
 *    the request to holding every track, flushed) and the wall time of the whole CLI call; `status` on B must
 *    show every track. Then C joins A the same way, and the three must list each other online.
 * 4. --edits edits, one at a time, each of another track's title, sent to A through its HTTP API; before each,
 *    `wait-track` long-polls are armed on B and C. Latency = sending the edit until each poll answers (nothing
 *    subtracted; the round trip of a no-op poll is measured and printed beside it).
 * 5. resident memory (VmRSS, VmHWM) of every node after each step
 *
 * Prints a table with the targets (PASS/MISS) and writes .bench/sync-results.json. Every node process and
 * temp dir is removed at the end, on errors and on Ctrl+C too.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { TrackView } from '../src/crdt/index.ts'
import type { StatusResult } from '../src/node/ops/library-ops.ts'
import type { DeviceListItem, InviteResult, JoinResult } from '../src/node/ops/network-ops.ts'
import { tempDir } from './lib/cleanup.ts'
import { describeMachine, machineFacts } from './lib/machine.ts'
import { cpuSnapshot } from './lib/proc-stat.ts'
import { runProcess } from './lib/process.ts'
import { publishResults, runBench } from './lib/run.ts'
import { copyHome, ensureSyncHome } from './lib/sync-home.ts'
import { BenchNode, CLI } from './lib/sync-nodes.ts'
import {
  computeTargets,
  consistencyChecks,
  type EditResults,
  formatReport,
  type JoinMeasure,
  type MemorySnapshot,
  type Phase,
  type Stats,
  type SyncOptions,
  type SyncResults,
  stats,
} from './lib/sync-report.ts'
import { syntheticTrack } from './lib/synthetic-tracks.ts'
import { msSince, nowMs, repeat, sleep, spread } from './lib/timing.ts'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BENCH_DIR = join(REPO, '.bench')
const RESULTS_FILE = join(BENCH_DIR, 'sync-results.json')
const LOG_DIR = join(BENCH_DIR, 'sync-logs')
/** Between arming the wait-track polls and sending the edit, so that the polls are in place. */
const ARM_MS = 50
/** A wait for an edit gives up after this (the edit is then counted as missed). */
const WAIT_TIMEOUT_MS = 15_000
/** No-op round trips per node. */
const NOOP_RUNS = 50
/** How long A and the joined devices may take to list each other online after the last join. */
const MESH_TIMEOUT_MS = 60_000
/** How much longer the two joined devices may take to find each other (the edits do not need it). */
const MESH_EXTRA_MS = 10_000

const USAGE = `Usage: npm run bench:sync -- [--catalog N] [--edits N] [--warmup N] [--json]

Three cloudless nodes on 127.0.0.1: how long a new device takes to receive an N-track catalog, how
long an edit takes to reach two other devices, how much memory a node holding N tracks uses.
Prints a table and writes .bench/sync-results.json.

Options:
  --catalog N   tracks in the first device's catalog (default 100000; its home is kept in
                .bench/sync-home-N and reused)
  --edits N     measured edits (default 200)
  --warmup N    edits before those, not measured (default 10)
  --tracks N    accepted for \`npm run bench -- --tracks N\` (it sizes the scan benchmark's library); ignored
  --json        print the results as JSON too
  -h, --help    show this help`

function parseOptions(argv: string[]): SyncOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      catalog: { type: 'string' },
      edits: { type: 'string' },
      warmup: { type: 'string' },
      tracks: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  return {
    catalog: wholeNumber(values.catalog, 'catalog', 100_000, 1),
    edits: wholeNumber(values.edits, 'edits', 200, 1),
    warmup: wholeNumber(values.warmup, 'warmup', 10, 0),
    json: values.json,
  }
}

function wholeNumber(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} takes a whole number of at least ${min}, got ${value}`)
  return n
}

function log(line: string): void {
  process.stderr.write(`· ${line}\n`)
}

// ---------------------------------------------------------------------------------------------------------
// Phases: wall time, CPU of each node, CPU of everything else on the machine
// ---------------------------------------------------------------------------------------------------------

const nodes: BenchNode[] = []
const phases: Phase[] = []

async function nodeCpu(): Promise<Map<BenchNode, number>> {
  const out = new Map<BenchNode, number>()
  for (const node of nodes) out.set(node, node.running ? await node.cpuMs() : 0)
  return out
}

/** Runs one measured step, logging it and noting the CPU the nodes and other processes used meanwhile. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  log(`${name}…`)
  const before = await cpuSnapshot()
  const nodesBefore = await nodeCpu()
  const start = nowMs()
  try {
    return await fn()
  } finally {
    const ms = msSince(start)
    const after = await cpuSnapshot()
    const nodesAfter = await nodeCpu()
    const nodeCpuMs: Record<string, number> = {}
    let nodesTotal = 0
    for (const node of nodes) {
      const used = (nodesAfter.get(node) ?? 0) - (nodesBefore.get(node) ?? 0)
      if (!Number.isFinite(used) || (!node.running && used === 0)) continue
      nodeCpuMs[node.name] = used
      nodesTotal += used
    }
    // This process's own CPU includes every CLI child it reaped meanwhile.
    const machine = after.machineBusyMs - before.machineBusyMs
    const own = after.ownMs - before.ownMs
    phases.push({ name, ms, nodeCpuMs, othersCpuMs: Math.max(0, machine - own - nodesTotal) })
  }
}

const memory: MemorySnapshot[] = []
/** Things a reader of the results should know (printed with them). */
const notes: string[] = []

async function snapshotMemory(when: string, of: BenchNode[]): Promise<void> {
  const entry: MemorySnapshot = { when, nodes: {} }
  for (const node of of) entry.nodes[node.name] = await node.memory()
  memory.push(entry)
  log(
    `  memory ${when}: ${of.map((n) => `${n.name} ${entry.nodes[n.name]!.rssMB.toFixed(0)} MiB`).join(', ')}`,
  )
}

// ---------------------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------------------

async function trackCount(node: BenchNode): Promise<number> {
  const status = await node.op<StatusResult>('status', {})
  return status.tracks + status.videos
}

async function pair(joiner: BenchNode, inviter: BenchNode): Promise<JoinMeasure> {
  const { value: invite, run: inviteRun } = await inviter.cliJson<InviteResult>(['invite'])
  const [inviterBefore, joinerBefore] = [await inviter.cpuMs(), await joiner.cpuMs()]
  const { value: joined, run } = await joiner.cliJson<JoinResult>(['join', invite.link])
  const [inviterAfter, joinerAfter] = [await inviter.cpuMs(), await joiner.cpuMs()]
  const statusStart = nowMs()
  const status = await joiner.op<StatusResult>('status', {})
  const statusMs = msSince(statusStart)
  const devices = await joiner.op<DeviceListItem[]>('devices', {})
  const connection = devices.find((d) => d.id === inviter.description?.peerId)?.connection ?? null
  log(
    `  ${joiner.name}: join op ${joined.syncMs} ms, CLI ${run.wallMs.toFixed(0)} ms, ${joined.tracks} tracks; ` +
      `status shows ${status.tracks} (${statusMs.toFixed(0)} ms)`,
  )
  return {
    joiner: joiner.name,
    inviter: inviter.name,
    inviteCliMs: inviteRun.wallMs,
    syncMs: joined.syncMs,
    cliWallMs: run.wallMs,
    tracks: joined.tracks,
    statusTracks: status.tracks + status.videos,
    statusMs,
    inviterCpuMs: inviterAfter - inviterBefore,
    joinerCpuMs: joinerAfter - joinerBefore,
    connection: connection === null ? null : `${connection.address} (${connection.direction})`,
  }
}

interface MeshResult {
  /** From the call until A, B and C were connected as the edits need: A with B and A with C. */
  neededMs: number
  /** From the call until B and C were connected too, or null if they were not within MESH_EXTRA_MS. */
  fullMs: number | null
  /** Per node: whom it reaches, how, and how many addresses each device record carries. */
  connections: Record<string, string[]>
  /** Nodes whose own device record carries no addresses: the other devices cannot dial them. */
  withoutAddresses: string[]
}

/**
 * Waits until A lists B and C online and they list A (what the edits need), then up to MESH_EXTRA_MS
 * more for B and C to find each other (each dials the addresses the other published in the catalog).
 */
async function waitForMesh(a: BenchNode, others: BenchNode[]): Promise<MeshResult> {
  const start = nowMs()
  const all = [a, ...others]
  let lists: Record<string, DeviceListItem[]> = {}
  const online = (from: BenchNode, to: BenchNode) =>
    lists[from.name]?.some((d) => d.id === to.description?.peerId && d.online && !d.revoked) === true
  const poll = async () => {
    lists = {}
    for (const node of all) lists[node.name] = await node.op<DeviceListItem[]>('devices', {})
  }
  let neededMs: number | null = null
  let fullMs: number | null = null
  while (msSince(start) < MESH_TIMEOUT_MS) {
    await poll()
    if (neededMs === null && others.every((o) => online(a, o) && online(o, a))) neededMs = msSince(start)
    if (all.every((x) => all.every((y) => x === y || online(x, y)))) {
      fullMs = msSince(start)
      break
    }
    if (neededMs !== null && msSince(start) > neededMs + MESH_EXTRA_MS) break
    await sleep(100)
  }
  const describe = (list: DeviceListItem[]) =>
    list.map(
      (d) =>
        `${d.name}${d.self ? ' (self)' : ''}: ${d.addresses.length} addresses published, ` +
        (d.self
          ? 'this node'
          : d.online
            ? `online over ${d.connection?.address ?? '?'} (${d.connection?.direction ?? '?'})`
            : 'offline'),
    )
  const connections: Record<string, string[]> = {}
  for (const node of all) connections[node.name] = describe(lists[node.name] ?? [])
  if (neededMs === null) {
    const seen = Object.entries(connections)
      .map(([name, list]) => `${name}: ${list.join('; ')}`)
      .join('\n')
    throw new Error(`A did not connect with both joined devices within ${MESH_TIMEOUT_MS} ms:\n${seen}`)
  }
  const withoutAddresses = all
    .filter((node) => lists[node.name]?.find((d) => d.self)?.addresses.length === 0)
    .map((node) => node.name)
  return { neededMs, fullMs, connections, withoutAddresses }
}

interface WaitResult {
  reached: boolean
  waitedMs: number
  at: number
}

function waitFor(
  node: BenchNode,
  track: string,
  value: string,
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<WaitResult> {
  return node
    .op<{ reached: boolean; waitedMs: number }>('wait-track', { track, field: 'title', value, timeoutMs })
    .then((result) => ({ ...result, at: nowMs() }))
}

/** The round trip of a wait-track that answers at once (its value is already there): the HTTP floor. */
async function noopRoundTrips(node: BenchNode, catalog: number): Promise<Stats> {
  const times: number[] = []
  for (let k = 0; k < NOOP_RUNS; k++) {
    const track = syntheticTrack(Math.floor(((k + 0.25) * catalog) / NOOP_RUNS))
    const start = nowMs()
    const result = await waitFor(node, track.id, track.record.title, 1000)
    times.push(result.at - start)
    if (!result.reached || result.waitedMs !== 0) {
      throw new Error(
        `${node.name}: wait-track on track ${track.id}'s current title did not answer at once ` +
          `(${JSON.stringify(result)}): does it hold the catalog?`,
      )
    }
  }
  return stats(times.slice(5))
}

async function measureEdits(
  a: BenchNode,
  b: BenchNode,
  c: BenchNode,
  options: SyncOptions,
): Promise<EditResults> {
  const total = options.warmup + options.edits
  const tag = Date.now().toString(36)
  const toB: number[] = []
  const toC: number[] = []
  const toBoth: number[] = []
  const roundTrips: number[] = []
  let lateWaits = 0
  let missed = 0
  for (let k = 0; k < total; k++) {
    // Distinct tracks spread over the catalog (the no-op probes used others).
    const track = syntheticTrack(Math.floor(((k + 0.75) * options.catalog) / total)).id
    const value = `Edited by the sync benchmark ${tag} #${k}`
    const onB = waitFor(b, track, value)
    const onC = waitFor(c, track, value)
    await sleep(ARM_MS)
    const sent = nowMs()
    const edited = await a.op<TrackView>('edit', { track, set: { title: value } })
    const answered = nowMs()
    if (edited.title !== value)
      throw new Error(`the edit op on A returned title ${JSON.stringify(edited.title)}`)
    const [rb, rc] = await Promise.all([onB, onC])
    if (k < options.warmup) continue
    for (const r of [rb, rc]) {
      if (!r.reached) missed++
      else if (r.waitedMs === 0) lateWaits++
    }
    toB.push(rb.at - sent)
    toC.push(rc.at - sent)
    toBoth.push(Math.max(rb.at, rc.at) - sent)
    roundTrips.push(answered - sent)
    if ((k + 1) % 50 === 0) log(`  ${k + 1 - options.warmup}/${options.edits} edits`)
  }
  return {
    count: options.edits,
    warmup: options.warmup,
    reachedB: stats(toB),
    reachedC: stats(toC),
    reachedBoth: stats(toBoth),
    editRoundTrip: stats(roundTrips),
    lateWaits,
    missed,
    samples: toB.slice(0, 50).map((ms, i) => [round1(ms), round1(toC[i]!)]),
  }
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10
}

async function stopAll(): Promise<SyncResults['stops']> {
  return Promise.all(
    nodes.map(async (node) => {
      const start = nowMs()
      await node.stop()
      return { name: node.name, ms: msSince(start), exit: String(node.exitCode ?? node.exitSignal) }
    }),
  )
}

async function saveLogs(): Promise<void> {
  await mkdir(LOG_DIR, { recursive: true })
  for (const node of nodes) await writeFile(join(LOG_DIR, `${node.name}.log`), node.log)
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const machine = await machineFacts()
  log(`machine: ${describeMachine(machine)}`)
  await mkdir(BENCH_DIR, { recursive: true })

  const home = await ensureSyncHome(BENCH_DIR, options.catalog, log)
  log(
    `catalog home ${home.cached}${home.reused ? ' (reused)' : ''}: ${home.marker.state.tracks} tracks, ` +
      `full state ${(home.marker.state.stateBytes / 1e6).toFixed(1)} MB`,
  )
  const a = new BenchNode('A', await copyHome(home.cached, 'sync-A'))
  const b = new BenchNode('B', (await tempDir('sync-B')).path)
  const c = new BenchNode('C', (await tempDir('sync-C')).path)
  nodes.push(a, b, c)

  const cliStart = await repeat(
    3,
    async () => (await runProcess(process.execPath, [CLI, '--version'])).wallMs,
  )

  await phase(`start A (loads its ${options.catalog}-track catalog)`, () => a.start())
  await snapshotMemory('A started, catalog loaded', [a])
  await phase('start B and C (empty homes)', () => Promise.all([b.start(), c.start()]))
  const starts = [
    { name: a.name, startMs: a.startMs, tracksAtStart: await trackCount(a) },
    { name: b.name, startMs: b.startMs, tracksAtStart: await trackCount(b) },
    { name: c.name, startMs: c.startMs, tracksAtStart: await trackCount(c) },
  ]

  const joins: JoinMeasure[] = []
  joins.push(await phase('B joins A (invite on A, `cloudless join` on B)', () => pair(b, a)))
  await snapshotMemory('B joined', [a, b, c])
  joins.push(await phase('C joins A', () => pair(c, a)))
  const mesh = await phase('until the three nodes list each other online', () => waitForMesh(a, [b, c]))
  if (mesh.withoutAddresses.length > 0) {
    notes.push(
      `The device records of ${mesh.withoutAddresses.join(' and ')} carry no addresses after joining, so the ` +
        'other devices cannot dial them (they published them at start; the join replaced their record with ' +
        "the inviter's, see src/node/protocols/pairing/pairing.ts #receive).",
    )
  }
  if (mesh.fullMs === null) {
    notes.push(
      `B and C did not connect to each other within ${MESH_EXTRA_MS / 1000} s after both were connected ` +
        'to A (see the addresses their device records carry below); edits still reach both directly from A.',
    )
  }
  await snapshotMemory('C joined, all connected', [a, b, c])

  const noop: Record<string, Stats> = {}
  await phase(`no-op wait-track round trips × ${NOOP_RUNS} on each node`, async () => {
    for (const node of [a, b, c]) noop[node.name] = await noopRoundTrips(node, options.catalog)
  })
  const edits = await phase(`${options.warmup} + ${options.edits} edits on A, waited for on B and C`, () =>
    measureEdits(a, b, c, options),
  )
  await snapshotMemory(`after the edits`, [a, b, c])

  log('stopping the nodes…')
  const stops = await stopAll()
  await saveLogs()

  const results: SyncResults = {
    date: new Date().toISOString(),
    machine,
    options,
    home: {
      cached: home.cached,
      reused: home.reused,
      stateBytes: home.marker.state.stateBytes,
      tracks: home.marker.state.tracks,
      locations: home.marker.state.locations,
    },
    cliStartMs: spread(cliStart),
    starts,
    joins,
    mesh,
    noop,
    edits,
    memory,
    stops,
    phases,
    targets: [],
    notes,
    checks: [],
  }
  results.targets = computeTargets(results)
  results.checks = consistencyChecks(results)
  await publishResults(RESULTS_FILE, results, formatReport, options.json)
}

await runBench('sync', main, async () => {
  for (const node of nodes) {
    if (node.log !== '') process.stderr.write(`\n--- ${node.name}'s log (end) ---\n${node.logTail()}\n`)
  }
  await saveLogs()
})
