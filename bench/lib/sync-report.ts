/**
 * The sync benchmark's results: their shape, percentiles, the targets of issue 3 with PASS/MISS,
 * sanity checks, and the printed report.
 */
import { formatContention, type MeasuredPhase } from './contention.ts'
import { describeMachine, type MachineFacts } from './machine.ts'
import type { Memory } from './sync-nodes.ts'
import { fmt, fmtSeconds, formatTable } from './table.ts'
import type { Spread } from './timing.ts'

export interface SyncOptions {
  /** Tracks in the catalog of the first device. */
  catalog: number
  /** Measured edits (after the warm-up ones). */
  edits: number
  warmup: number
  json: boolean
}

export interface Stats {
  n: number
  min: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** othersCpuMs: not this benchmark, its nodes or its CLI runs. */
export interface Phase extends MeasuredPhase {
  /** CPU time each node used meanwhile. */
  nodeCpuMs: Record<string, number>
}

export interface NodeStart {
  name: string
  startMs: number
  tracksAtStart: number
}

export interface JoinMeasure {
  joiner: string
  inviter: string
  /** Wall time of `cloudless invite --json` on the inviter (CLI process included). */
  inviteCliMs: number
  /** What the join op reports: from receiving the request to holding the catalog, flushed to disk. */
  syncMs: number
  /** Wall time of the whole `cloudless join <link> --json` (CLI process start included). */
  cliWallMs: number
  /** Tracks the join op reported. */
  tracks: number
  /** `status` on the joiner right after, through its HTTP API. */
  statusTracks: number
  statusMs: number
  /** CPU time of the inviter and the joiner during the join call. */
  inviterCpuMs: number
  joinerCpuMs: number
  /** How the joiner reached the inviter (the joiner's `devices`). */
  connection: string | null
}

export interface EditResults {
  count: number
  warmup: number
  /** Sending the edit to A until B's / C's wait-track long-poll answered. */
  reachedB: Stats
  reachedC: Stats
  reachedBoth: Stats
  /** Sending the edit to A until A answered (the edit op's HTTP round trip). */
  editRoundTrip: Stats
  /** Waits that began after the edit had already arrived (they measure late, never early). */
  lateWaits: number
  /** Edits that did not arrive within the wait's timeout. */
  missed: number
  /** The first measured latencies in ms, in order, for the record: [B, C]. */
  samples: Array<[number, number]>
}

export interface MemorySnapshot {
  when: string
  nodes: Record<string, Memory>
}

export interface Target {
  what: string
  limit: string
  measured: string
  status: 'PASS' | 'MISS' | 'INFO'
}

export interface SyncResults {
  date: string
  machine: MachineFacts
  options: SyncOptions
  home: {
    cached: string
    reused: boolean
    stateBytes: number
    tracks: number
    locations: number
  }
  cliStartMs: Spread
  starts: NodeStart[]
  joins: JoinMeasure[]
  /** After C's join: until A was connected with B and C, until B and C were too (null: not within the wait). */
  mesh: {
    neededMs: number
    fullMs: number | null
    connections: Record<string, string[]>
    withoutAddresses: string[]
  }
  noop: Record<string, Stats>
  edits: EditResults
  memory: MemorySnapshot[]
  stops: Array<{ name: string; ms: number; exit: string }>
  phases: Phase[]
  targets: Target[]
  notes: string[]
  checks: string[]
}

// ---------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Targets and checks
// ---------------------------------------------------------------------------------------------------------

const FULL_CATALOG_LIMIT_MS = 2000
const EDIT_P50_LIMIT_MS = 50
const RSS_LIMIT_MB = 300

const status = (ok: boolean): Target['status'] => (ok ? 'PASS' : 'MISS')

/** Per node, the largest reading after it held the catalog (A: every reading; B, C: after their join). */
function heldRss(r: SyncResults, pick: (m: Memory) => number): Array<{ name: string; mb: number }> {
  const out = new Map<string, number>()
  for (const snapshot of r.memory) {
    for (const [name, memory] of Object.entries(snapshot.nodes)) {
      out.set(name, Math.max(out.get(name) ?? 0, pick(memory)))
    }
  }
  return [...out].map(([name, mb]) => ({ name, mb }))
}

export function computeTargets(r: SyncResults): Target[] {
  const n = fmt(r.options.catalog)
  const joinList = (value: (j: JoinMeasure) => number) =>
    r.joins.map((j) => `${j.joiner} ${fmtSeconds(value(j))} s`).join(', ')
  const joinsUnder = (value: (j: JoinMeasure) => number) =>
    r.joins.length > 0 && r.joins.every((j) => value(j) < FULL_CATALOG_LIMIT_MS)
  const rss = heldRss(r, (m) => m.rssMB)
  const hwm = heldRss(r, (m) => m.hwmMB)
  const worst = (list: Array<{ name: string; mb: number }>) =>
    list.reduce((a, b) => (b.mb > a.mb ? b : a), { name: '—', mb: 0 })
  const list = (l: Array<{ name: string; mb: number }>) => l.map((x) => `${x.name} ${fmt(x.mb)}`).join(', ')
  const e = r.edits
  return [
    {
      what: `fresh device holds the ${n}-track catalog (join op: request to all tracks, flushed)`,
      limit: '< 2 s',
      measured: joinList((j) => j.syncMs),
      status: status(joinsUnder((j) => j.syncMs)),
    },
    {
      what: '  the same, whole `cloudless join --json` CLI call',
      limit: '< 2 s',
      measured: joinList((j) => j.cliWallMs),
      status: status(joinsUnder((j) => j.cliWallMs)),
    },
    {
      what: 'one edit on A reaches both B and C, p50',
      limit: '< 50 ms',
      measured: `${fmt(e.reachedBoth.p50, 1)} ms (B ${fmt(e.reachedB.p50, 1)}, C ${fmt(e.reachedC.p50, 1)})`,
      status: status(e.reachedBoth.p50 < EDIT_P50_LIMIT_MS && e.missed === 0),
    },
    {
      what: '  the same, p99 (no limit set)',
      limit: '—',
      measured: `${fmt(e.reachedBoth.p99, 1)} ms (B ${fmt(e.reachedB.p99, 1)}, C ${fmt(e.reachedC.p99, 1)})`,
      status: 'INFO',
    },
    {
      what: `resident memory of a node holding ${n} tracks (VmRSS, largest reading, MiB)`,
      limit: `< ${RSS_LIMIT_MB} MB`,
      measured: list(rss),
      status: status(rss.length === 3 && worst(rss).mb < RSS_LIMIT_MB),
    },
    {
      what: '  peak resident memory so far (VmHWM, MiB)',
      limit: `(${RSS_LIMIT_MB} MB)`,
      measured: list(hwm),
      status: 'INFO',
    },
  ]
}

/** Sanity checks: every step did what it was meant to. */
export function consistencyChecks(r: SyncResults): string[] {
  const problems: string[] = []
  const n = r.options.catalog
  if (r.home.tracks !== n) problems.push(`the built home holds ${r.home.tracks} tracks, expected ${n}`)
  for (const j of r.joins) {
    if (j.tracks !== n) problems.push(`${j.joiner}'s join reported ${j.tracks} tracks, expected ${n}`)
    if (j.statusTracks !== n)
      problems.push(`${j.joiner}'s status after the join shows ${j.statusTracks} tracks, expected ${n}`)
  }
  if (r.edits.missed > 0) problems.push(`${r.edits.missed} waits for an edit timed out (edit never arrived)`)
  if (r.edits.reachedB.n !== r.options.edits || r.edits.reachedC.n !== r.options.edits)
    problems.push(`measured ${r.edits.reachedB.n}/${r.edits.reachedC.n} edits, expected ${r.options.edits}`)
  for (const stop of r.stops) {
    if (stop.exit !== '0')
      problems.push(`node ${stop.name} did not stop cleanly on SIGTERM: exit ${stop.exit}`)
  }
  return problems
}

// ---------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------

function statsRow(what: string, s: Stats): string[] {
  return [what, fmt(s.n), fmt(s.p50, 1), fmt(s.p90, 1), fmt(s.p99, 1), fmt(s.max, 1), fmt(s.mean, 1)]
}

function formatLatencies(r: SyncResults): string {
  const e = r.edits
  const rows = [
    statsRow('edit on A → reached B', e.reachedB),
    statsRow('edit on A → reached C', e.reachedC),
    statsRow('edit on A → reached both', e.reachedBoth),
    statsRow('edit op round trip on A (for reference)', e.editRoundTrip),
    ...Object.entries(r.noop).map(([name, s]) => statsRow(`no-op wait-track round trip on ${name}`, s)),
  ]
  return formatTable(
    [
      { title: 'latency (ms)' },
      { title: 'n', align: 'right' },
      { title: 'p50', align: 'right' },
      { title: 'p90', align: 'right' },
      { title: 'p99', align: 'right' },
      { title: 'max', align: 'right' },
      { title: 'mean', align: 'right' },
    ],
    rows,
  )
}

function formatJoins(r: SyncResults): string {
  return formatTable(
    [
      { title: 'join' },
      { title: 'join op', align: 'right' },
      { title: 'CLI wall', align: 'right' },
      { title: 'tracks', align: 'right' },
      { title: 'status', align: 'right' },
      { title: 'status op', align: 'right' },
      { title: 'CPU inviter', align: 'right' },
      { title: 'CPU joiner', align: 'right' },
      { title: 'invite CLI', align: 'right' },
      { title: 'over' },
    ],
    r.joins.map((j) => [
      `${j.joiner} joins ${j.inviter}`,
      `${fmt(j.syncMs)} ms`,
      `${fmt(j.cliWallMs)} ms`,
      fmt(j.tracks),
      fmt(j.statusTracks),
      `${fmt(j.statusMs)} ms`,
      `${fmt(j.inviterCpuMs)} ms`,
      `${fmt(j.joinerCpuMs)} ms`,
      `${fmt(j.inviteCliMs)} ms`,
      j.connection ?? '—',
    ]),
  )
}

function formatMemory(r: SyncResults): string {
  const names = [...new Set(r.memory.flatMap((s) => Object.keys(s.nodes)))]
  return formatTable(
    [
      { title: 'resident memory, MiB (VmRSS / VmHWM)' },
      ...names.map((n) => ({ title: n, align: 'right' as const })),
    ],
    r.memory.map((s) => [
      s.when,
      ...names.map((n) => {
        const m = s.nodes[n]
        return m === undefined ? '—' : `${fmt(m.rssMB)} / ${fmt(m.hwmMB)}`
      }),
    ]),
  )
}

function formatPhases(r: SyncResults): string {
  const names = [...new Set(r.phases.flatMap((p) => Object.keys(p.nodeCpuMs)))]
  return formatTable(
    [
      { title: 'phase' },
      { title: 'wall', align: 'right' },
      ...names.map((n) => ({ title: `CPU ${n}`, align: 'right' as const })),
      { title: 'CPU others', align: 'right' },
    ],
    r.phases.map((p) => [
      p.name,
      `${fmt(p.ms)} ms`,
      ...names.map((n) => (p.nodeCpuMs[n] === undefined ? '—' : `${fmt(p.nodeCpuMs[n])} ms`)),
      `${fmt(p.othersCpuMs)} ms`,
    ]),
  )
}

function formatTargets(targets: Target[]): string {
  return formatTable(
    [{ title: 'target (loopback)' }, { title: 'limit' }, { title: 'measured' }, { title: 'result' }],
    targets.map((t) => [t.what, t.limit, t.measured, t.status]),
  )
}

/** The figures for the README's benchmark section, as a Markdown table. */
export function readmeTable(r: SyncResults): string {
  const e = r.edits
  const n = fmt(r.options.catalog)
  const rows = [
    ['what', 'target', 'measured'],
    ['---', '---', '---'],
    ...r.joins.map((j) => [
      `${j.joiner === r.joins[0]?.joiner ? 'A fresh device' : 'Another fresh device'} holds the ${n}-track catalog after \`cloudless join\` (join op / whole CLI call)`,
      '< 2 s',
      `${fmtSeconds(j.syncMs)} s / ${fmtSeconds(j.cliWallMs)} s`,
    ]),
    [
      `One edit reaches two other devices, p50 / p99 (${fmt(e.count)} edits)`,
      '< 50 ms (p50)',
      `${fmt(e.reachedBoth.p50, 1)} ms / ${fmt(e.reachedBoth.p99, 1)} ms`,
    ],
    [
      `Resident memory of a node holding ${n} tracks: the one that has them / joined ones (VmRSS)`,
      '< 300 MB',
      (() => {
        const rss = heldRss(r, (m) => m.rssMB)
        const a = rss.find((x) => x.name === 'A')
        const joined = rss.filter((x) => x.name !== 'A')
        return `${fmt(a?.mb)} MB / ${joined.map((x) => fmt(x.mb)).join(', ')} MB`
      })(),
    ],
  ]
  return rows.map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

export function formatReport(r: SyncResults, resultsFile: string): string {
  const noopP50 = Object.entries(r.noop)
    .map(([name, s]) => `${name} ${fmt(s.p50, 1)} ms`)
    .join(', ')
  const lines = [
    '',
    `Sync benchmark — ${r.date}`,
    `Machine: ${describeMachine(r.machine)}`,
    ...formatContention(r.phases, r.machine.cores),
    `Catalog: ${fmt(r.home.tracks)} synthetic tracks with ${fmt(r.home.locations)} locations on A; ` +
      `full Yjs state ${fmt(r.home.stateBytes / 1e6, 1)} MB (MB = 10^6 bytes)` +
      (r.home.reused ? ` (home reused from ${r.home.cached})` : ' (home built now)'),
    `Nodes: three \`cloudless start\` processes on 127.0.0.1 (TCP, noise, yamux), mDNS off. Started in ` +
      r.starts.map((s) => `${s.name} ${fmt(s.startMs)} ms (${fmt(s.tracksAtStart)} tracks)`).join(', ') +
      `; a bare CLI process (cloudless --version) takes ${fmt(r.cliStartMs.median)} ms.`,
    '',
    formatJoins(r),
    '',
    `After C's join returned, A listed B and C online (and they A) within ${fmt(r.mesh.neededMs)} ms; ` +
      (r.mesh.fullMs === null
        ? 'B and C did not connect to each other.'
        : `B and C were connected to each other within ${fmt(r.mesh.fullMs)} ms.`),
    ...Object.entries(r.mesh.connections).flatMap(([name, list]) => [
      `  ${name}'s device list:`,
      ...list.map((line) => `    ${line}`),
    ]),
    '',
    formatLatencies(r),
    '',
    `Edits: ${fmt(r.edits.count)} measured after ${fmt(r.edits.warmup)} warm-up ones, one at a time, each on a ` +
      'different track, sent to A through its HTTP API; before each, wait-track long-polls were armed on B and C.',
    `Latency = from sending the edit to A until each long-poll answered; nothing subtracted. A no-op round trip ` +
      `(wait-track on a value already there: HTTP plus the op's own lookup of the track) takes p50 ${noopP50}. ` +
      `${fmt(r.edits.lateWaits)} waits were armed only after the edit had arrived (they can only read high); ` +
      `${fmt(r.edits.missed)} edits never arrived.`,
    '',
    formatMemory(r),
    '',
    formatPhases(r),
    '',
    `Stopping (SIGTERM): ${r.stops.map((s) => `${s.name} ${fmt(s.ms)} ms, exit ${s.exit}`).join('; ')}`,
    '',
    formatTargets(r.targets),
    '',
    'For the README:',
    '',
    readmeTable(r),
  ]
  if (r.notes.length > 0) lines.push('', 'NOTES:', ...r.notes.map((note) => `  ${note}`))
  if (r.checks.length > 0) lines.push('', 'CHECKS FAILED:', ...r.checks.map((p) => `  ${p}`))
  lines.push('', `Results written to ${resultsFile}`)
  return lines.join('\n')
}
