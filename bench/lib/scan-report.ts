/**
 * The results of bench/scan.ts: their shape (also that of .bench/scan-results.json), the ratios, the
 * targets of issue 2 with PASS/MISS, sanity checks, and the printed report.
 */
import type { BuildResult, LoadResult } from './catalog-child.ts'
import { formatContention, type MeasuredPhase } from './contention.ts'
import { describeMachine, type MachineFacts } from './machine.ts'
import type { MpdBenchResult } from './mpd.ts'
import type { ScanChildResult } from './scan-child.ts'
import { fmt, fmtRatio, fmtSeconds, formatTable, megabytes, perSecond } from './table.ts'
import { type Spread, spread } from './timing.ts'

export interface BenchOptions {
  tracks: number
  catalog: number
  json: boolean
}

export interface HashResult {
  version: string | null
  ms: number
  cpuMs: number | null
  maxRssMB: number | null
}

export interface ProcessRun {
  /** From spawn to exit, as the parent saw it. */
  wallMs: number
  /** User + system CPU time of the process and its descendants (GNU time). */
  cpuMs: number | null
  maxRssMB: number | null
}

export interface ScanRun extends ScanChildResult {
  /** The child process from spawn to exit: Node start, imports, open, scan, close. */
  wallMs: number
  wallCpuMs: number | null
}

export interface CliRun extends ProcessRun {
  read: number
  unchanged: number
  tracks: number
}

export interface CloudlessResult {
  /** First scans, each in a fresh process with a new home. */
  firsts: ScanRun[]
  /** The first scan with the median scan() time, shown in the table. */
  first: ScanRun
  firstScanMs: Spread
  /** Unchanged rescans, each in a fresh process, on the last first scan's home. */
  rescans: ScanRun[]
  rescanScanMs: Spread
  rescanWallMs: Spread
  /** The same rescan through the CLI, `cloudless scan <folder> --json --home <home>`. */
  cli: CliRun[]
  cliWallMs: Spread
  /** `cloudless --version`: Node start and the CLI's imports, no work. */
  cliStart: ProcessRun[]
  cliStartMs: Spread
}

export type MpdOutcome =
  | {
      ran: true
      version: string | null
      /** Each round: a fresh mpd with an empty database, one update, then unchanged updates. */
      rounds: MpdBenchResult[]
      /** The round with the median update time, shown in the table. */
      first: MpdBenchResult
      updateMs: Spread
      rescanMs: Spread
    }
  | { ran: false; note: string }

export type CatalogLoad = LoadResult & { wallMs: number }

export interface CatalogResult {
  build: BuildResult
  /**
   * The first open after the catalog was written. LevelDB then replays its write-ahead log (which
   * holds everything written since the last open, the compacted snapshot included) into a table.
   */
  firstLoad: CatalogLoad
  /** Opens with nothing written in between. */
  laterLoads: CatalogLoad[]
  openMs: Spread
  listMs: Spread
}

export type Phase = MeasuredPhase

export interface Target {
  what: string
  limit: string
  measured: string
  status: 'PASS' | 'MISS' | 'SKIP'
}

export interface Results {
  date: string
  machine: MachineFacts
  options: BenchOptions
  library: { dir: string; files: number; bytes: number; reused: boolean; pageCacheWarmMs: number }
  sha256sum: HashResult
  openssl: HashResult | null
  cloudless: CloudlessResult
  mpd: MpdOutcome
  catalog: CatalogResult
  phases: Phase[]
  ratios: Record<string, number | null>
  targets: Target[]
  checks: string[]
}

/** The run whose `key` is the median (the lower middle one for an even count). */
export function medianRun<T>(runs: T[], key: (run: T) => number): T {
  const sorted = [...runs].sort((a, b) => key(a) - key(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

function median(values: number[]): number {
  return spread(values).median
}

function medianOrNull(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null)
  return known.length === 0 ? null : median(known)
}

// ---------------------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------------------

interface Row {
  what: string
  ms: number | null
  cpuMs: number | null
  count: number | null
  bytes: number | null
  rssMB: number | null
  note: string
}

function cloudlessRows(c: CloudlessResult): Row[] {
  const n = c.first.read
  return [
    {
      what: 'Cloudless first scan (tags + hashes)',
      ms: c.first.scanMs,
      cpuMs: c.first.scanCpuMs,
      count: n,
      bytes: c.first.bytesRead,
      rssMB: c.first.maxRssMB,
      note: `scan() in a fresh process; median of ${c.firsts.length}`,
    },
    {
      what: '  same, whole process',
      ms: c.first.wallMs,
      cpuMs: c.first.wallCpuMs,
      count: n,
      bytes: c.first.bytesRead,
      rssMB: c.first.maxRssMB,
      note: `Node start + open ${fmt(c.first.openMs)} ms + scan + close ${fmt(c.first.closeMs)} ms`,
    },
    {
      what: 'Cloudless rescan, unchanged',
      ms: c.rescanScanMs.median,
      cpuMs: median(c.rescans.map((x) => x.scanCpuMs)),
      count: n,
      bytes: null,
      rssMB: median(c.rescans.map((x) => x.maxRssMB)),
      note: `scan() in a fresh process; median of ${c.rescans.length}`,
    },
    {
      what: '  same, whole CLI process',
      ms: c.cliWallMs.median,
      cpuMs: medianOrNull(c.cli.map((x) => x.cpuMs)),
      count: n,
      bytes: null,
      rssMB: medianOrNull(c.cli.map((x) => x.maxRssMB)),
      note: `cloudless scan --json, spawn to exit; median of ${c.cli.length}`,
    },
    {
      what: '  of which CLI start alone',
      ms: c.cliStartMs.median,
      cpuMs: medianOrNull(c.cliStart.map((x) => x.cpuMs)),
      count: null,
      bytes: null,
      rssMB: medianOrNull(c.cliStart.map((x) => x.maxRssMB)),
      note: `cloudless --version (Node start + CLI imports); median of ${c.cliStart.length}`,
    },
  ]
}

function hasherRow(what: string, hash: HashResult, lib: Results['library'], note: string): Row {
  const { ms, cpuMs, maxRssMB: rssMB } = hash
  return { what, ms, cpuMs, count: lib.files, bytes: lib.bytes, rssMB, note }
}

function mpdRows(mpd: MpdOutcome): Row[] {
  if (!mpd.ran) {
    const none = { ms: null, cpuMs: null, count: null, bytes: null, rssMB: null }
    return [{ what: 'mpd', ...none, note: `skipped: ${mpd.note}` }]
  }
  const { first } = mpd
  return [
    {
      what: `mpd ${mpd.version ?? ''} update (tags only)`.replace(/\s+/g, ' '),
      ms: first.updateMs,
      cpuMs: first.updateCpuMs,
      count: first.songs,
      bytes: null, // it reads tags and headers, not whole files
      rssMB: first.peakRssMB,
      note: `update into an empty database; median of ${mpd.rounds.length}`,
    },
    {
      what: 'mpd rescan, unchanged',
      ms: mpd.rescanMs.median,
      cpuMs: medianOrNull(mpd.rounds.flatMap((r) => r.rescanCpuMs)),
      count: first.songs,
      bytes: null,
      rssMB: first.peakRssMB,
      note: `update again; median of ${mpd.rescanMs.runs.length}`,
    },
  ]
}

function catalogRows(catalog: CatalogResult): Row[] {
  const { firstLoad, laterLoads } = catalog
  const lastLoad = laterLoads.at(-1)
  return [
    {
      what: `catalog load, ${fmt(catalog.build.tracks)} tracks, first open`,
      ms: firstLoad.openMs,
      cpuMs: firstLoad.openCpuMs,
      count: catalog.build.tracks,
      bytes: null,
      rssMB: firstLoad.maxRssMB,
      note: 'Device.open in a fresh process, first after writing',
    },
    {
      what: '  later opens',
      ms: catalog.openMs.median,
      cpuMs: median(laterLoads.map((l) => l.openCpuMs)),
      count: catalog.build.tracks,
      bytes: null,
      rssMB: median(laterLoads.map((l) => l.maxRssMB)),
      note: `nothing written in between; median of ${laterLoads.length}`,
    },
    {
      what: '  + list every track',
      ms: catalog.listMs.median,
      cpuMs: null,
      count: lastLoad?.tracks ?? null,
      bytes: null,
      rssMB: null,
      note: `listTracks(); heap after ${fmt(lastLoad?.heapUsedMB)} MB`,
    },
  ]
}

function tableRows(r: Results): Row[] {
  const rows = [
    ...cloudlessRows(r.cloudless),
    hasherRow('sha256sum', r.sha256sum, r.library, 'find | xargs sha256sum, one process'),
  ]
  if (r.openssl !== null) {
    const sha = r.machine.shaExtensions ? ' (SHA-NI)' : ''
    rows.push(hasherRow('openssl dgst -sha256', r.openssl, r.library, `same with OpenSSL${sha}`))
  }
  return [...rows, ...mpdRows(r.mpd), ...catalogRows(r.catalog)]
}

function formatRows(rows: Row[]): string {
  return formatTable(
    [
      { title: 'what' },
      { title: 's', align: 'right' },
      { title: 'CPU s', align: 'right' },
      { title: 'tracks/s', align: 'right' },
      { title: 'MB/s', align: 'right' },
      { title: 'peak RSS MB', align: 'right' },
      { title: 'how' },
    ],
    rows.map((row) => [
      row.what,
      fmtSeconds(row.ms),
      fmtSeconds(row.cpuMs),
      row.ms === null || row.count === null ? '—' : fmt(perSecond(row.count, row.ms)),
      row.ms === null || row.bytes === null ? '—' : fmt(megabytes(perSecond(row.bytes, row.ms))),
      fmt(row.rssMB),
      row.note,
    ]),
  )
}

// ---------------------------------------------------------------------------------------------------------
// Ratios, targets, checks
// ---------------------------------------------------------------------------------------------------------

export function computeRatios(r: Results): Record<string, number | null> {
  const { first } = r.cloudless
  const cloudlessTps = perSecond(first.read, first.scanMs)
  const cloudlessMBps = megabytes(perSecond(first.bytesRead, first.scanMs))
  const hashMBps = (hash: HashResult) => megabytes(perSecond(r.library.bytes, hash.ms))
  const mpd = r.mpd.ran ? r.mpd : null
  const mpdCpuPerTrack = mpd?.first.updateCpuMs ? mpd.first.updateCpuMs / mpd.first.songs : null
  return {
    firstScanTracksPerSecVsMpd: mpd ? cloudlessTps / perSecond(mpd.first.songs, mpd.first.updateMs) : null,
    firstScanMBpsVsSha256sum: cloudlessMBps / hashMBps(r.sha256sum),
    firstScanMBpsVsOpensslSha256: r.openssl ? cloudlessMBps / hashMBps(r.openssl) : null,
    firstScanCpuPerTrackVsMpd: mpdCpuPerTrack ? first.scanCpuMs / first.read / mpdCpuPerTrack : null,
    rescanTimeVsMpd: mpd ? r.cloudless.rescanScanMs.median / mpd.rescanMs.median : null,
  }
}

function formatRatios(ratios: Record<string, number | null>): string {
  return formatTable(
    [{ title: 'ratio' }, { title: 'value', align: 'right' }],
    [
      ['Cloudless first scan tracks/s ÷ mpd update tracks/s', fmtRatio(ratios.firstScanTracksPerSecVsMpd)],
      ['Cloudless first scan MB/s ÷ sha256sum MB/s', fmtRatio(ratios.firstScanMBpsVsSha256sum)],
      ['Cloudless first scan MB/s ÷ openssl sha256 MB/s', fmtRatio(ratios.firstScanMBpsVsOpensslSha256)],
      ['Cloudless first scan CPU time per track ÷ mpd update', fmtRatio(ratios.firstScanCpuPerTrackVsMpd)],
      ['Cloudless rescan time (scan()) ÷ mpd rescan time', fmtRatio(ratios.rescanTimeVsMpd)],
    ],
  )
}

const status = (ok: boolean): Target['status'] => (ok ? 'PASS' : 'MISS')

/** A limit defined for a reference size, scaled linearly to the size measured. */
function scaledLimit(
  seconds: number,
  size: number,
  reference: number,
  label: string,
): { ms: number; text: string } {
  const scale = size / reference
  const ms = seconds * 1000 * scale
  return { ms, text: scale === 1 ? `< ${seconds} s` : `< ${(ms / 1000).toFixed(3)} s (scaled from ${label})` }
}

function firstScanTarget(r: Results): Target {
  if (!r.mpd.ran)
    return { what: 'first scan tracks/s ≥ mpd update', limit: '—', measured: '—', status: 'SKIP' }
  const { first } = r.cloudless
  const cloudlessTps = perSecond(first.read, first.scanMs)
  const mpdTps = perSecond(r.mpd.first.songs, r.mpd.first.updateMs)
  return {
    what: 'first scan tracks/s ≥ mpd update tracks/s',
    limit: `≥ ${fmt(mpdTps)}/s`,
    measured: `${fmt(cloudlessTps)}/s`,
    status: status(cloudlessTps >= mpdTps),
  }
}

export function computeTargets(r: Results): Target[] {
  const c = r.cloudless
  const rescan = scaledLimit(0.2, r.options.tracks, 10_000, '10k')
  const load = scaledLimit(1, r.options.catalog, 100_000, '100k')
  const targets: Target[] = [
    firstScanTarget(r),
    {
      what: 'unchanged rescan, scan() in process',
      limit: rescan.text,
      measured: `${fmtSeconds(c.rescanScanMs.median)} s`,
      status: status(c.rescanScanMs.median < rescan.ms),
    },
    {
      what: 'unchanged rescan, whole CLI process (stricter)',
      limit: rescan.text,
      measured: `${fmtSeconds(c.cliWallMs.median)} s`,
      status: status(c.cliWallMs.median < rescan.ms),
    },
  ]
  if (r.mpd.ran) {
    const mpdRescan = scaledLimit(0.1, r.options.tracks, 10_000, '10k')
    targets.push({
      what: "mpd's unchanged rescan (the issue's reference)",
      limit: mpdRescan.text,
      measured: `${fmtSeconds(r.mpd.rescanMs.median)} s`,
      status: status(r.mpd.rescanMs.median < mpdRescan.ms),
    })
  }
  targets.push(
    {
      what: `catalog of ${fmt(r.options.catalog)} tracks loaded, first open after writing`,
      limit: load.text,
      measured: `${fmtSeconds(r.catalog.firstLoad.openMs)} s`,
      status: status(r.catalog.firstLoad.openMs < load.ms),
    },
    {
      what: `catalog of ${fmt(r.options.catalog)} tracks loaded, later opens`,
      limit: load.text,
      measured: `${fmtSeconds(r.catalog.openMs.median)} s`,
      status: status(r.catalog.openMs.median < load.ms),
    },
  )
  return targets
}

function formatTargets(targets: Target[]): string {
  return formatTable(
    [{ title: 'target' }, { title: 'limit' }, { title: 'measured' }, { title: 'result' }],
    targets.map((t) => [t.what, t.limit, t.measured, t.status]),
  )
}

/** Sanity checks: every run did the work it was meant to do. */
export function consistencyChecks(r: Results): string[] {
  const problems: string[] = []
  const n = r.options.tracks
  const { firsts, rescans, cli } = r.cloudless
  if (r.library.files !== n) problems.push(`the library holds ${r.library.files} files, expected ${n}`)
  for (const first of firsts) {
    if (first.read !== n || first.tracks !== n)
      problems.push(
        `a Cloudless first scan read ${first.read} files, holds ${first.tracks} tracks; expected ${n}`,
      )
    if (first.skipped > 0)
      problems.push(
        `Cloudless skipped ${first.skipped} files, e.g. ${JSON.stringify(first.skippedExamples[0])}`,
      )
  }
  for (const run of [...rescans, ...cli]) {
    if (run.read !== 0 || run.unchanged !== n)
      problems.push(`a rescan read ${run.read} files (${run.unchanged} unchanged), expected 0 (${n})`)
  }
  if (r.mpd.ran) {
    for (const round of r.mpd.rounds)
      if (round.songs !== n) problems.push(`mpd holds ${round.songs} songs, expected ${n}`)
  }
  for (const load of [r.catalog.firstLoad, ...r.catalog.laterLoads]) {
    if (load.tracks !== r.options.catalog)
      problems.push(`the catalog load listed ${load.tracks} tracks, expected ${r.options.catalog}`)
  }
  return problems
}

// ---------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------

function runsMs(s: Spread): string {
  return `${s.runs.map((ms) => fmt(ms)).join(' / ')} ms`
}

function formatDetails(r: Results): string[] {
  const c = r.cloudless
  const mpdLine = r.mpd.ran
    ? `mpd: updates ${runsMs(r.mpd.updateMs)} (status polled every 5 ms); unchanged updates ` +
      `${runsMs(r.mpd.rescanMs)}; ${r.mpd.first.songs} songs.`
    : `mpd: skipped — ${r.mpd.note}`
  return [
    `Cloudless first scans: scan() ${runsMs(c.firstScanMs)}. Median run: open ${fmt(c.first.openMs)} ms, ` +
      `close (catalog compaction) ${fmt(c.first.closeMs)} ms, process ${fmt(c.first.wallMs)} ms, ` +
      `heap after scan ${fmt(c.first.heapUsedMB)} MB.`,
    `Cloudless rescans: scan() ${runsMs(c.rescanScanMs)}; whole child process ${runsMs(c.rescanWallMs)}; ` +
      `whole CLI ${runsMs(c.cliWallMs)}; CLI start alone ${runsMs(c.cliStartMs)}.`,
    mpdLine,
    `Catalog: built in ${fmt(r.catalog.build.writeMs)} ms + close ${fmt(r.catalog.build.closeMs)} ms; ` +
      `Device.open first ${fmt(r.catalog.firstLoad.openMs)} ms, later ${runsMs(r.catalog.openMs)}; ` +
      `listTracks ${runsMs(r.catalog.listMs)}; load processes ` +
      `${[r.catalog.firstLoad, ...r.catalog.laterLoads].map((l) => fmt(l.wallMs)).join(' / ')} ms.`,
  ]
}

export function formatReport(r: Results, resultsFile: string): string {
  const lib = r.library
  const mpd = r.mpd.ran ? `mpd ${r.mpd.version}` : `mpd skipped (${r.mpd.note})`
  const lines = [
    '',
    `Scanner benchmark — ${r.date}`,
    `Machine: ${describeMachine(r.machine)}`,
    ...formatContention(r.phases, r.machine.cores),
    `Library: ${fmt(lib.files)} files, ${fmt(megabytes(lib.bytes))} MB (MB = 10^6 bytes) in ${lib.dir}` +
      (lib.reused ? ' (reused)' : ' (generated now)'),
    `Page cache: warmed first (every file read once, ${fmtSeconds(lib.pageCacheWarmMs)} s); ` +
      'all figures below are with the files in memory.',
    `Peers: ${r.sha256sum.version ?? 'sha256sum'}; ${r.openssl?.version ?? 'no openssl'}; ${mpd}.`,
    '',
    formatRows(tableRows(r)),
    '',
    ...formatDetails(r),
    '',
    formatRatios(r.ratios),
    '',
    formatTargets(r.targets),
  ]
  if (r.checks.length > 0) lines.push('', 'CHECKS FAILED:', ...r.checks.map((p) => `  ${p}`))
  lines.push('', `Results written to ${resultsFile}`)
  return lines.join('\n')
}
