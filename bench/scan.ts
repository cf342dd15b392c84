/**
 * The scanner benchmark (issue 2): Cloudless against its peers, on the same machine, in the same run.
 *
 *   npm run bench:scan -- [--tracks 10000] [--catalog 100000] [--json]
 *
 * 1. a generated library of --tracks tracks (kept in .bench/lib-<N>, reused), read once to warm the page cache
 * 2. sha256sum over the same files, one process: the hashing limit of one core; and `openssl dgst -sha256`,
 *    since coreutils' sha256sum may not use the CPU's SHA extensions that OpenSSL (and Node) use
 * 3. rounds of: a Cloudless first scan (tags + hashes) in a fresh process with a new home, then mpd's
 *    update of the same folder into an empty database (mpd installed if missing, or skipped with a note);
 *    alternating, so that other load on the machine hits both alike
 * 4. Cloudless unchanged rescans, each in a fresh process, and the same through the whole CLI process
 *    (`cloudless scan --json`), which is what a user waits for
 * 5. a --catalog-track synthetic catalog loaded from disk (Device.open) and listed, in fresh processes: the
 *    first open after writing it (LevelDB replays its log then) and later opens
 *
 * Prints a table, the ratios and the targets (PASS/MISS), and writes .bench/scan-results.json.
 * Every child process, mpd and temp dir is cleaned up, on errors and Ctrl+C too.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { BuildResult, LoadResult } from './lib/catalog-child.ts'
import { interrupted, onCleanup, tempDir } from './lib/cleanup.ts'
import { type BenchLibrary, ensureLibrary, warmPageCache } from './lib/library.ts'
import { describeMachine, machineFacts } from './lib/machine.ts'
import { benchMpd, ensureMpd, type MpdBenchResult, mpdVersion } from './lib/mpd.ts'
import { cpuSnapshot, othersCpuMs } from './lib/proc-stat.ts'
import {
  commandOutput,
  type RunResult,
  runNodeJson,
  runProcess,
  runShell,
  shellQuote,
} from './lib/process.ts'
import { publishResults, runBench } from './lib/run.ts'
import type { ScanChildResult } from './lib/scan-child.ts'
import {
  type BenchOptions,
  type CatalogLoad,
  type CatalogResult,
  type CliRun,
  type CloudlessResult,
  computeRatios,
  computeTargets,
  consistencyChecks,
  formatReport,
  type HashResult,
  type MpdOutcome,
  medianRun,
  type Phase,
  type ProcessRun,
  type Results,
  type ScanRun,
} from './lib/scan-report.ts'
import { fmt, fmtSeconds, megabytes } from './lib/table.ts'
import { repeat, spread } from './lib/timing.ts'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BENCH_DIR = join(REPO, '.bench')
const RESULTS_FILE = join(BENCH_DIR, 'scan-results.json')
const SCAN_CHILD = join(REPO, 'bench/lib/scan-child.ts')
const CATALOG_CHILD = join(REPO, 'bench/lib/catalog-child.ts')
const CLI = join(REPO, 'bin/cloudless.js')
/** Rounds of first scans (Cloudless, then mpd). */
const FIRST_SCAN_ROUNDS = 3
/** Unchanged rescans per kind, and mpd's per round. */
const RESCAN_RUNS = 3
/** Opens of the catalog after the first one. */
const LOAD_RUNS = 3

const USAGE = `Usage: npm run bench:scan -- [--tracks N] [--catalog N] [--json]

Measures the Cloudless scanner against sha256sum and mpd on a generated library, and the load
time of a large catalog. Prints a table and writes .bench/scan-results.json.

Options:
  --tracks N    tracks in the generated library (default 10000; kept in .bench/lib-N and reused)
  --catalog N   tracks in the synthetic catalog of the load test (default 100000)
  --json        print the results as JSON too
  -h, --help    show this help`

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      tracks: { type: 'string' },
      catalog: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  return {
    tracks: positiveInteger(values.tracks, 'tracks', 10_000),
    catalog: positiveInteger(values.catalog, 'catalog', 100_000),
    json: values.json,
  }
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} takes a whole number above 0, got ${value}`)
  return n
}

function log(line: string): void {
  process.stderr.write(`· ${line}\n`)
}

const phases: Phase[] = []

/** Runs one measured phase, logging it and noting how much CPU other processes took meanwhile. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  log(`${name}…`)
  const before = await cpuSnapshot()
  const start = performance.now()
  try {
    return await fn()
  } finally {
    const ms = performance.now() - start
    phases.push({ name, ms, othersCpuMs: othersCpuMs(before, await cpuSnapshot()) })
  }
}

// ---------------------------------------------------------------------------------------------------------
// Hashing peers
// ---------------------------------------------------------------------------------------------------------

/** Hashes every file of the library with `command` (one process at a time; xargs batches the names). */
async function benchHasher(lib: BenchLibrary, command: string, versionArgs: string[]): Promise<HashResult> {
  const run = await phase(`${command} over every file (one process)`, () =>
    runShell(`find ${shellQuote(lib.dir)} -type f -print0 | xargs -0 ${command} > /dev/null`, {
      measureRusage: true,
    }),
  )
  const binary = command.split(' ')[0]!
  const version = (await commandOutput(binary, versionArgs))?.split('\n')[0]?.trim() ?? null
  return { version, ms: run.wallMs, cpuMs: run.cpuMs, maxRssMB: run.maxRssMB }
}

/** OpenSSL's SHA-256 (SHA-NI where the CPU has it), the same code Node's crypto runs; null if absent. */
async function benchOpensslSha256(lib: BenchLibrary): Promise<HashResult | null> {
  if ((await commandOutput('openssl', ['version'])) === null) return null
  return benchHasher(lib, 'openssl dgst -sha256', ['version'])
}

// ---------------------------------------------------------------------------------------------------------
// Cloudless
// ---------------------------------------------------------------------------------------------------------

async function runScanChild(home: string, lib: BenchLibrary): Promise<ScanRun> {
  const { value, run } = await runNodeJson<ScanChildResult>(SCAN_CHILD, [home, lib.dir], {
    cwd: REPO,
    measureRusage: true,
  })
  return { ...value, wallMs: run.wallMs, wallCpuMs: run.cpuMs }
}

async function runCli(args: string[]): Promise<{ run: RunResult; process: ProcessRun }> {
  const run = await runProcess(process.execPath, [CLI, ...args], { cwd: REPO, measureRusage: true })
  if (run.code !== 0) throw new Error(`cloudless ${args[0]} exited with ${run.code}: ${run.stderr.trim()}`)
  return { run, process: { wallMs: run.wallMs, cpuMs: run.cpuMs, maxRssMB: run.maxRssMB } }
}

async function runCliScan(home: string, lib: BenchLibrary): Promise<CliRun> {
  const { run, process } = await runCli(['scan', lib.dir, '--json', '--home', home])
  const { read, unchanged, tracks } = JSON.parse(run.stdout) as Pick<CliRun, 'read' | 'unchanged' | 'tracks'>
  return { ...process, read, unchanged, tracks }
}

async function runCliStart(): Promise<ProcessRun> {
  return (await runCli(['--version'])).process
}

/** A first scan in a new home; the home is kept for rescans only when `keepHome`. */
async function cloudlessFirstScan(
  lib: BenchLibrary,
  round: number,
  keepHome: boolean,
): Promise<{ run: ScanRun; home: string | null }> {
  const home = await tempDir('home')
  try {
    const run = await phase(`Cloudless first scan ${round} (fresh process, new home)`, () =>
      runScanChild(home.path, lib),
    )
    log(`  ${run.read} files read in ${fmtSeconds(run.scanMs)} s`)
    return { run, home: keepHome ? home.path : null }
  } finally {
    if (!keepHome) await home.remove()
  }
}

async function cloudlessRescans(
  lib: BenchLibrary,
  home: string,
  firsts: ScanRun[],
): Promise<CloudlessResult> {
  const rescans = await phase(`Cloudless unchanged rescan × ${RESCAN_RUNS} (fresh process each)`, () =>
    repeat(RESCAN_RUNS, () => runScanChild(home, lib)),
  )
  const cli = await phase(`Cloudless unchanged rescan × ${RESCAN_RUNS} through the CLI`, () =>
    repeat(RESCAN_RUNS, () => runCliScan(home, lib)),
  )
  const cliStart = await phase(`CLI start alone (cloudless --version) × ${RESCAN_RUNS}`, () =>
    repeat(RESCAN_RUNS, runCliStart),
  )
  return {
    firsts,
    first: medianRun(firsts, (r) => r.scanMs),
    firstScanMs: spread(firsts.map((r) => r.scanMs)),
    rescans,
    rescanScanMs: spread(rescans.map((r) => r.scanMs)),
    rescanWallMs: spread(rescans.map((r) => r.wallMs)),
    cli,
    cliWallMs: spread(cli.map((r) => r.wallMs)),
    cliStart,
    cliStartMs: spread(cliStart.map((r) => r.wallMs)),
  }
}

// ---------------------------------------------------------------------------------------------------------
// mpd
// ---------------------------------------------------------------------------------------------------------

/** One fresh mpd: its first update of the library and RESCAN_RUNS unchanged updates. */
async function mpdRound(binary: string, lib: BenchLibrary, round: number): Promise<MpdBenchResult> {
  const work = await tempDir('mpd')
  const empty = await tempDir('mpd-empty')
  try {
    const result = await phase(
      `mpd update ${round} (fresh mpd, empty database) + ${RESCAN_RUNS} unchanged`,
      () => benchMpd(binary, work.path, lib.dir, empty.path, RESCAN_RUNS),
    )
    log(`  ${result.songs} songs in ${fmtSeconds(result.updateMs)} s`)
    return result
  } finally {
    await work.remove()
    await empty.remove()
  }
}

async function mpdOutcome(binary: string, rounds: MpdBenchResult[]): Promise<MpdOutcome> {
  return {
    ran: true,
    version: await mpdVersion(binary),
    rounds,
    first: medianRun(rounds, (r) => r.updateMs),
    updateMs: spread(rounds.map((r) => r.updateMs)),
    rescanMs: spread(rounds.flatMap((r) => r.rescanMs)),
  }
}

// ---------------------------------------------------------------------------------------------------------
// First scans, alternating Cloudless and mpd
// ---------------------------------------------------------------------------------------------------------

async function benchScanners(lib: BenchLibrary): Promise<{ cloudless: CloudlessResult; mpd: MpdOutcome }> {
  const found = await ensureMpd(log)
  let mpdSkip: string | null = 'skip' in found ? found.skip : null
  if (mpdSkip !== null) log(`mpd skipped: ${mpdSkip}`)
  const firsts: ScanRun[] = []
  const mpdRounds: MpdBenchResult[] = []
  let home: string | null = null
  for (let round = 1; round <= FIRST_SCAN_ROUNDS; round++) {
    const first = await cloudlessFirstScan(lib, round, round === FIRST_SCAN_ROUNDS)
    firsts.push(first.run)
    home = first.home
    if ('binary' in found && mpdSkip === null) {
      try {
        mpdRounds.push(await mpdRound(found.binary, lib, round))
      } catch (error) {
        if (interrupted() !== null) throw error
        mpdSkip = `mpd failed: ${(error as Error).message}`
        log(mpdSkip)
      }
    }
  }
  const cloudless = await cloudlessRescans(lib, home!, firsts)
  const mpd: MpdOutcome =
    'binary' in found && mpdSkip === null
      ? await mpdOutcome(found.binary, mpdRounds)
      : { ran: false, note: mpdSkip ?? 'mpd did not run' }
  return { cloudless, mpd }
}

// ---------------------------------------------------------------------------------------------------------
// Catalog load
// ---------------------------------------------------------------------------------------------------------

async function benchCatalogLoad(tracks: number): Promise<CatalogResult> {
  const home = await tempDir('catalog')
  try {
    const { value: build } = await phase(
      `building a ${tracks}-track synthetic catalog (transactions of 5000, then close/compact)`,
      () => runNodeJson<BuildResult>(CATALOG_CHILD, ['build', home.path, String(tracks)]),
    )
    const loadOnce = async (): Promise<CatalogLoad> => {
      const { value, run } = await runNodeJson<LoadResult>(CATALOG_CHILD, ['load', home.path])
      return { ...value, wallMs: run.wallMs }
    }
    const firstLoad = await phase('loading it, first open after writing (fresh process)', loadOnce)
    const laterLoads = await phase(`loading it again × ${LOAD_RUNS} (fresh process each)`, () =>
      repeat(LOAD_RUNS, loadOnce),
    )
    return {
      build,
      firstLoad,
      laterLoads,
      openMs: spread(laterLoads.map((l) => l.openMs)),
      listMs: spread(laterLoads.map((l) => l.listMs)),
    }
  } finally {
    await home.remove()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const machine = await machineFacts()
  log(`machine: ${describeMachine(machine)}`)
  await mkdir(BENCH_DIR, { recursive: true })
  const controller = new AbortController()
  onCleanup(() => controller.abort(new Error('interrupted')))

  const library = await ensureLibrary(BENCH_DIR, options.tracks, log, controller.signal)
  log(`library ${library.dir}: ${library.files} files, ${fmt(megabytes(library.bytes))} MB`)
  const warm = await phase('warming the page cache (reading every file once)', () =>
    warmPageCache(library.dir),
  )

  const sha256sum = await benchHasher(library, 'sha256sum', ['--version'])
  const openssl = await benchOpensslSha256(library)
  const { cloudless, mpd } = await benchScanners(library)
  const catalog = await benchCatalogLoad(options.catalog)

  const results: Results = {
    date: new Date().toISOString(),
    machine,
    options,
    library: {
      dir: library.dir,
      files: library.files,
      bytes: library.bytes,
      reused: library.reused,
      pageCacheWarmMs: warm.ms,
    },
    sha256sum,
    openssl,
    cloudless,
    mpd,
    catalog,
    phases,
    ratios: {},
    targets: [],
    checks: [],
  }
  results.ratios = computeRatios(results)
  results.targets = computeTargets(results)
  results.checks = consistencyChecks(results)

  await publishResults(RESULTS_FILE, results, formatReport, options.json)
}

await runBench('scan', main)
