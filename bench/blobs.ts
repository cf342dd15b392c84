/**
 * The blob benchmark (issue 4): moving the library's files between devices, Cloudless against Syncthing,
 * on the same machine, in the same run.
 *
 *   npm run bench:blobs -- [--tracks 10000] [--rounds 1] [--only 10k,1GiB,latency] [--no-syncthing]
 *                          [--no-floor] [--profile] [--json]
 *
 * 1. data sets in .bench/, made once and reused: the generated --tracks library (lib-<N>, shared with
 *    bench:scan), 1 GiB in 200 distinct FLAC files (large-200x5MB), a 30 MB FLAC in 8 title variants
 *    (long-flac-30MB); each read once (page cache) and hashed (SHA-256, to verify what arrives)
 * 2. per set and round, alternating which tool goes first, each transfer once the file system creates files
 *    fast (waiting, up to 7 min, after deletions: bench/lib/file-creation.ts):
 *    - Cloudless: A scans the set (not timed) and starts, B starts empty and joins; timed from `mirror on`
 *      on B until B's cache shows every track complete; every cached blob is checked against its source
 *    - Syncthing (Debian package, installed if missing): two instances on 127.0.0.1 with discovery, relays,
 *      NAT, reporting and upgrades off; A's send-only folder is scanned until idle (not timed); timed from B
 *      adding the receive-only folder until it is complete; every received file is checked
 *    - 1 GiB only: the Node floor and one plain libp2p stream (bench/lib/blobs-floor.ts): the same files through
 *      a bare encrypted, verified transfer in Node, over a socket and over one js-libp2p stream; every file checked
 * 3. time to first byte and to a seek through B's /stream for the 30 MB FLAC only A holds (cold), and again
 *    from B's cache (warm)
 *
 * Prints a table (seconds, MB/s, files/s), the ratios and the targets (PASS/MISS), and writes
 * .bench/blobs-results.json. Every node, Syncthing instance and temp dir is removed at the end, on errors and
 * on Ctrl+C too: the receiving folders of all rounds are kept until then (KEEP_UNTIL_EXIT). With --profile, the Cloudless nodes of the first round write V8 CPU profiles to
 * .bench/blobs-profiles/, summarized in the report.
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  cloudlessMirror,
  cloudlessPlayWhileMirroring,
  cloudlessStreamLatency,
  forEachLimited,
  type PlayWhileMirroring,
  sha256File,
} from './lib/blobs-cloudless.ts'
import { type DataSet, ensureLargeSet, ensureLongFlac } from './lib/blobs-data.ts'
import { floorTransfer } from './lib/blobs-floor.ts'
import { profilesIn, summarizeProfileFile } from './lib/blobs-profile.ts'
import {
  type BlobOptions,
  type BlobResults,
  type Contention,
  computeRatios,
  computeTargets,
  consistencyChecks,
  type DataSetInfo,
  formatReport,
  mbPerSecond,
  type Transfer,
} from './lib/blobs-report.ts'
import { ensureSyncthing, syncthingTransfer, syncthingVersion } from './lib/blobs-syncthing.ts'
import { interrupted, onCleanup, tempDir } from './lib/cleanup.ts'
import { waitForFastFileCreation } from './lib/file-creation.ts'
import { ensureLibrary, warmPageCache } from './lib/library.ts'
import { describeMachine, machineFacts } from './lib/machine.ts'
import { publishResults, runBench } from './lib/run.ts'
import { fmt } from './lib/table.ts'
import { msSince, nowMs } from './lib/timing.ts'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BENCH_DIR = join(REPO, '.bench')
const RESULTS_FILE = join(BENCH_DIR, 'blobs-results.json')
const PROFILE_DIR = join(BENCH_DIR, 'blobs-profiles')
/** The Cloudless nodes' logs of each run. */
const LOG_DIR = join(BENCH_DIR, 'blobs-logs')
/** Other processes busier than this (in cores, on average) during a measurement make it noisy. */
const NOISY_CORES = 0.25

const USAGE = `Usage: npm run bench:blobs -- [--tracks N] [--rounds N] [--only SETS] [--no-syncthing] [--no-floor] [--profile] [--json]

Mirrors a generated library and 1 GiB of large files from one Cloudless device to another, and
moves the same data with Syncthing, with the Node floor (a bare encrypted, verified transfer in Node
over one socket: what any Node implementation costs at the least) and over one plain libp2p stream
(the stack used plainly, no Cloudless code); times the first byte and a seek of a 30 MB FLAC that only the
other device holds. Prints a table and writes .bench/blobs-results.json.

Options:
  --tracks N      tracks in the generated library (default 10000; kept in .bench/lib-N and reused)
  --rounds N      transfers per tool and data set, alternating which tool goes first (default 1)
  --only SETS     comma-separated: 10k, 1GiB, latency (default all three)
  --no-syncthing  no Syncthing transfers
  --no-floor      no Node-floor and libp2p-plain-stream transfers (they run on the 1 GiB set only)
  --profile       CPU profiles of the Cloudless nodes in the first round (.bench/blobs-profiles/)
  --json          print the results as JSON too
  -h, --help      show this help

--catalog, --edits and --warmup are accepted (\`npm run bench\` passes its options to every benchmark)
and ignored.`

const SETS = ['10k', '1GiB', 'latency'] as const

function parseOptions(argv: string[]): BlobOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      tracks: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      'no-syncthing': { type: 'boolean', default: false },
      'no-floor': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      catalog: { type: 'string' },
      edits: { type: 'string' },
      warmup: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const only = (values.only ?? SETS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  for (const s of only)
    if (!(SETS as readonly string[]).includes(s)) throw new Error(`--only takes ${SETS.join(', ')}; got ${s}`)
  return {
    tracks: wholeNumber(values.tracks, 'tracks', 10_000),
    rounds: wholeNumber(values.rounds, 'rounds', 1),
    only: only as BlobOptions['only'],
    syncthing: !values['no-syncthing'],
    floor: !values['no-floor'],
    profile: values.profile,
    json: values.json,
  }
}

function wholeNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a whole number above 0, got ${value}`)
  return n
}

function log(line: string): void {
  process.stderr.write(`· ${line}\n`)
}

/** SHA-256 of every file under `dir`, by absolute path. */
async function hashTree(dir: string): Promise<Map<string, string>> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath, e.name))
  const hashes = new Map<string, string>()
  await forEachLimited(files, 4, async (file) => {
    hashes.set(file, await sha256File(file))
  })
  return hashes
}

function contention(machineCpu: { busyMs: number; ownMs: number }, toolsMs: number): Contention {
  return {
    othersCpuMs: Math.max(0, machineCpu.busyMs - machineCpu.ownMs - toolsMs),
    benchCpuMs: machineCpu.ownMs,
  }
}

// ---------------------------------------------------------------------------------------------------------
// One transfer of each tool
// ---------------------------------------------------------------------------------------------------------

async function runCloudless(
  set: DataSet,
  round: number,
  hashes: Map<string, string>,
  profile: boolean,
): Promise<Transfer> {
  log(`Cloudless mirror of ${set.label}, round ${round}…`)
  let profileDir: string | undefined
  if (profile && round === 1) {
    profileDir = join(PROFILE_DIR, set.key)
    await rm(profileDir, { recursive: true, force: true })
    await mkdir(profileDir, { recursive: true })
  }
  const logDir = join(LOG_DIR, `${set.key}-round${round}`)
  const run = await cloudlessMirror(
    set,
    hashes,
    log,
    profileDir === undefined ? { logDir } : { profileDir, logDir },
  )
  log(`  ${fmt(mbPerSecond(run.bytes, run.transferMs), 1)} MB/s`)
  return {
    tool: 'cloudless',
    set: set.key,
    round,
    ms: run.transferMs,
    files: run.tracks,
    bytes: run.bytes,
    cpuMs: run.cpuMs,
    contention: contention(run.machineCpu, run.cpuMs.a + run.cpuMs.b),
    cloudless: run,
  }
}

/**
 * KEEP_UNTIL_EXIT: what a transfer wrote (Cloudless homes, Syncthing folders) is removed when the
 * benchmark exits, not after each transfer. Deleting tens of thousands of files makes creating files on
 * the same file system slow for minutes afterwards on ext4 without a journal (as on the machine the
 * README's figures come from: ext4 re-checks every free inode it passes for a deletion in the last 1 to 6
 * minutes, measured at 280-660 µs per file created for several minutes after a 10k transfer's cleanup),
 * which would slow whichever tool runs next. Each round therefore needs the disk space of its copies
 * (about 2.5 GB per tool and round for the default sets, and 1 GiB for each floor transfer).
 */
async function runSyncthing(
  binary: string,
  set: DataSet,
  round: number,
  hashes: Map<string, string>,
): Promise<Transfer> {
  log(`Syncthing transfer of ${set.label}, round ${round}…`)
  const work = await tempDir('syncthing')
  try {
    const { result, receivedDir, stop } = await syncthingTransfer(binary, work.path, set.dir, set, log)
    await stop()
    log(
      `  ${(result.transferMs / 1000).toFixed(2)} s, ${fmt(mbPerSecond(result.bytes, result.transferMs), 1)} MB/s`,
    )
    // Every received file against its source.
    const received = await hashTree(receivedDir)
    let matching = 0
    for (const [file, hash] of received)
      if (hashes.get(join(set.dir, relative(receivedDir, file))) === hash) matching++
    result.verifiedFiles = matching
    if (matching !== set.files || received.size !== set.files)
      throw new Error(
        `Syncthing's B holds ${received.size} files, ${matching} matching the set's ${set.files}`,
      )
    return {
      tool: 'syncthing',
      set: set.key,
      round,
      ms: result.transferMs,
      files: received.size,
      bytes: result.bytes,
      cpuMs: result.cpuMs,
      contention: contention(result.machineCpu, result.cpuMs.a + result.cpuMs.b),
      syncthing: result,
    }
  } finally {
    // The folders stay until the benchmark exits: see KEEP_UNTIL_EXIT.
  }
}

/** A floor (bench/lib/blobs-floor.ts) moving the set; its copies stay until exit too (KEEP_UNTIL_EXIT). */
async function runFloor(
  set: DataSet,
  round: number,
  hashes: Map<string, string>,
  variant: 'bare' | 'libp2p',
): Promise<Transfer> {
  const tool = variant === 'bare' ? 'floor' : 'libp2p-stream'
  log(
    `${variant === 'bare' ? 'Node floor' : 'plain libp2p stream'} transfer of ${set.label}, round ${round}…`,
  )
  const work = await tempDir(tool)
  const run = await floorTransfer(set.dir, work.path, variant)
  log(`  ${(run.transferMs / 1000).toFixed(2)} s, ${fmt(mbPerSecond(set.bytes, run.transferMs), 1)} MB/s`)
  const received = await hashTree(work.path)
  let matching = 0
  for (const [file, hash] of received)
    if (hashes.get(join(set.dir, relative(work.path, file))) === hash) matching++
  if (matching !== set.files || received.size !== set.files)
    throw new Error(
      `the Node floor's receiver holds ${received.size} files, ${matching} matching the set's ${set.files}`,
    )
  return {
    tool,
    set: set.key,
    round,
    ms: run.transferMs,
    files: run.files,
    bytes: set.bytes,
    cpuMs: run.cpuMs,
    contention: contention(run.machineCpu, run.machineCpu.childrenMs),
    floor: { verifiedFiles: matching },
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
  const notes: string[] = []
  const checks: string[] = []
  await rm(LOG_DIR, { recursive: true, force: true })

  // Data sets.
  const sets: DataSet[] = []
  if (options.only.includes('10k')) {
    const lib = await ensureLibrary(BENCH_DIR, options.tracks, log, controller.signal)
    sets.push({
      key: '10k',
      label: `the ${fmt(lib.files)}-track library`,
      dir: lib.dir,
      files: lib.files,
      bytes: lib.bytes,
      reused: lib.reused,
    })
  }
  if (options.only.includes('1GiB')) sets.push(await ensureLargeSet(BENCH_DIR, log, controller.signal))
  const flac = options.only.includes('latency')
    ? await ensureLongFlac(BENCH_DIR, log, controller.signal)
    : null
  const infos: DataSetInfo[] = []
  const hashes = new Map<string, Map<string, string>>()
  for (const set of [...sets, ...(flac === null ? [] : [flac])]) {
    const warm = await warmPageCache(set.dir)
    const hashStart = nowMs()
    hashes.set(set.key, await hashTree(set.dir))
    const hashMs = msSince(hashStart)
    log(
      `${set.label} in ${set.dir}: ${fmt(set.files)} files, ${fmt(set.bytes / 1e6, 1)} MB; hashed in ${fmt(hashMs)} ms`,
    )
    infos.push({ ...set, warmMs: warm.ms, hashMs })
  }

  // Syncthing.
  let syncthing: { binary: string } | null = null
  let syncthingSkipped: string | null = null
  if (!options.syncthing) syncthingSkipped = '--no-syncthing'
  else if (sets.length > 0) {
    const found = await ensureSyncthing(log)
    if ('skip' in found) {
      syncthingSkipped = found.skip
      log(`Syncthing skipped: ${found.skip}`)
    } else syncthing = found
  }

  // Transfers, alternating which tool goes first.
  const transfers: Transfer[] = []
  for (const set of sets) {
    const setHashes = hashes.get(set.key)!
    for (let round = 1; round <= options.rounds; round++) {
      const cloudlessFirst = round % 2 === 1
      const steps: Array<() => Promise<Transfer>> = [
        () => runCloudless(set, round, setHashes, options.profile),
        ...(syncthing === null ? [] : [() => runSyncthing(syncthing.binary, set, round, setHashes)]),
        // The floors answer how fast large files can go at all; for small files the per-file work
        // (how many files in flight, where they are created and synced) is each tool's own design.
        ...(options.floor && set.key === '1GiB'
          ? [() => runFloor(set, round, setHashes, 'bare'), () => runFloor(set, round, setHashes, 'libp2p')]
          : []),
      ]
      if (!cloudlessFirst) steps.reverse()
      for (const step of steps) {
        try {
          const fileCreation = await waitForFastFileCreation(log)
          transfers.push({ ...(await step()), fileCreation })
        } catch (error) {
          if (interrupted() !== null) throw error
          const text = (error as Error).message
          checks.push(`${set.key} round ${round} failed: ${text.split('\n')[0]}`)
          log(`FAILED: ${text}`)
        }
      }
    }
  }

  // Profiles (written when the nodes exited).
  const profiles: BlobResults['profiles'] = []
  if (options.profile) {
    for (const set of sets) {
      for (const node of ['A', 'B']) {
        for (const file of await profilesIn(join(PROFILE_DIR, set.key, node))) {
          profiles.push({
            set: set.key,
            node,
            file: relative(REPO, file),
            summary: await summarizeProfileFile(file),
          })
        }
      }
    }
  }

  // First byte and seek.
  let latency: BlobResults['latency'] = null
  let latencyContention: Contention | null = null
  if (flac !== null) {
    log(`first byte and seek through B's /stream (${flac.label})…`)
    try {
      latency = await cloudlessStreamLatency(flac, log, join(LOG_DIR, 'latency'))
      const c = latency.cpuMs
      latencyContention = contention({ busyMs: c.busy, ownMs: c.own }, c.a + c.b)
    } catch (error) {
      if (interrupted() !== null) throw error
      checks.push(`first byte / seek failed: ${(error as Error).message.split('\n')[0]}`)
      log(`FAILED: ${(error as Error).message}`)
    }
  }

  // Pressing play while the device mirrors: the 10k library, whose mirror runs long enough to sample.
  let playWhileMirroring: PlayWhileMirroring | null = null
  const tenK = sets.find((s) => s.key === '10k')
  if (flac !== null && tenK !== undefined) {
    log(`first byte through B's /stream while B mirrors ${tenK.label}…`)
    try {
      await waitForFastFileCreation(log)
      playWhileMirroring = await cloudlessPlayWhileMirroring(tenK, log, join(LOG_DIR, 'play-while-mirroring'))
      // The mirror takes tracks in order and the samples came from the end: it must not have reached
      // the first of them (the 8th from the end, 7 apart), nor have been idle when sampling began.
      const p = playWhileMirroring
      if (p.completeAtStart === 0 || p.completeAtEnd >= p.tracks - 1 - 7 * (p.samples.length - 1))
        checks.push(
          `first byte while mirroring: the mirror had ${p.completeAtStart} then ${p.completeAtEnd} of ${p.tracks} tracks, so some samples may not have been taken while it ran`,
        )
    } catch (error) {
      if (interrupted() !== null) throw error
      checks.push(`first byte while mirroring failed: ${(error as Error).message.split('\n')[0]}`)
      log(`FAILED: ${(error as Error).message}`)
    }
  }

  const results: BlobResults = {
    date: new Date().toISOString(),
    machine,
    options,
    sets: infos,
    syncthing: {
      version: syncthing === null ? null : await syncthingVersion(syncthing.binary),
      skipped: syncthingSkipped,
    },
    transfers,
    latency,
    latencyContention,
    playWhileMirroring,
    ratios: {},
    targets: [],
    profiles,
    notes,
    checks,
  }
  results.ratios = computeRatios(results)
  results.targets = computeTargets(results)
  results.checks.push(...consistencyChecks(results))
  for (const t of transfers) {
    const cores = t.contention.othersCpuMs / t.ms
    if (cores > NOISY_CORES)
      notes.push(
        `Noisy: other processes used ${cores.toFixed(2)} cores on average during ${t.tool} ${t.set} round ${t.round} ` +
          `(this machine has ${machine.cores}); its figure is likely low.`,
      )
    const pollErrors = t.cloudless?.pollErrors ?? []
    if (pollErrors.length > 0)
      notes.push(
        `Cloudless ${t.set} round ${t.round}: ${pollErrors.length} polls of B's cache op failed and were repeated (${[...new Set(pollErrors)].slice(0, 3).join('; ')}).`,
      )
    const failures = t.cloudless?.failures
    if (failures !== undefined && failures.blobs > 0)
      notes.push(
        `Cloudless ${t.set} round ${t.round}: ${failures.blobs} blob fetches failed and were retried by the node ` +
          `(${Object.entries(failures.errors)
            .map(([k, n]) => `${n}× ${k}`)
            .join('; ')}).`,
      )
  }
  if (latencyContention !== null && latency !== null) {
    const cores = latencyContention.othersCpuMs / latency.cpuMs.wallMs
    if (cores > NOISY_CORES)
      notes.push(
        `Noisy: other processes used ${cores.toFixed(2)} cores on average while first byte and seek were timed.`,
      )
  }

  await publishResults(RESULTS_FILE, results, formatReport, options.json)
}

await runBench('blobs', main)
