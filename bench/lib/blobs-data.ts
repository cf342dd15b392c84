/**
 * Data sets of the blob benchmark, made once under .bench/ (each folder with a marker file beside it,
 * `<folder>.json`, as bench/lib/library.ts does for the generated library) and reused while the marker
 * matches:
 *
 *   large-200x5MB/   200 FLAC files of 1 GiB / 200 bytes each (5.37 MB), every one encoded by ffmpeg
 *                    from its own noise seed and tone, so that no two files share a block. Syncthing
 *                    copies blocks it already holds from other files instead of transferring them; files
 *                    that differed only in a tag would let it skip most of the data.
 *   long-flac-30MB/  one 30 MB FLAC (a few minutes of stereo tone + noise at 44.1 kHz) in VARIANTS copies
 *                    that differ only in their title tag ("Long Take 01", ...): distinct content IDs, so
 *                    each copy is a track the other device has never fetched (a cold first byte each).
 *
 * Exact sizes come from the FLAC PADDING block, which players skip.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { countFiles } from './library.ts'
import { msSince, nowMs } from './timing.ts'

export interface DataSet {
  /** Short name used in tables: '10k', '1GiB'. */
  key: string
  label: string
  dir: string
  files: number
  bytes: number
  reused: boolean
}

export const LARGE_FILES = 200
export const LARGE_FILE_BYTES = Math.floor(1024 ** 3 / LARGE_FILES)
export const LONG_FLAC_BYTES = 30_000_000
export const LONG_FLAC_VARIANTS = 8
const LONG_FLAC_TITLE = 'Long Take 01'

/** Bumped whenever the generated content changes, so that old folders are made again. */
const LARGE_VERSION = 2
const LONG_VERSION = 2

interface Marker {
  version: number
  files: number
  fileBytes: number
  seconds: number
  createdAt: string
}

export function largeSetDir(benchDir: string): string {
  return join(benchDir, `large-${LARGE_FILES}x5MB`)
}

export function longFlacDir(benchDir: string): string {
  return join(benchDir, 'long-flac-30MB')
}

async function readMarker(dir: string, expected: Omit<Marker, 'seconds' | 'createdAt'>): Promise<boolean> {
  if (!existsSync(dir)) return false
  try {
    const m = JSON.parse(await readFile(`${dir}.json`, 'utf8')) as Marker
    return m.version === expected.version && m.files === expected.files && m.fileBytes === expected.fileBytes
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------------------
// FLAC
// ---------------------------------------------------------------------------------------------------------

const FLAC_PADDING = 1

/**
 * Runs ffmpeg into a temp file and returns its bytes. Not through a pipe: on a pipe ffmpeg cannot go
 * back to fill in STREAMINFO (sample count, MD5), and the FLAC would have no duration.
 */
async function runFfmpeg(args: string[], signal?: AbortSignal): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudless-bench-flac-'))
  const out = join(dir, 'out.flac')
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('ffmpeg', ['-v', 'error', '-nostdin', ...args, out], { signal }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`ffmpeg failed: ${error.message}\n${String(stderr).trim()}`))
        else resolve()
      })
    })
    return await readFile(out)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A FLAC stream of `seconds` of a tone plus low noise from its own seed, tagged. */
function encodeFlac(
  seconds: number,
  seed: number,
  frequency: number,
  tags: Record<string, string>,
  signal?: AbortSignal,
): Promise<Buffer> {
  const metadata = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`])
  return runFfmpeg(
    [
      ...['-f', 'lavfi', '-i', `sine=frequency=${frequency}:duration=${seconds}:sample_rate=44100`],
      ...['-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:a=0.1:seed=${seed}:r=44100`],
      ...['-filter_complex', 'amix=inputs=2', '-ac', '2', '-ar', '44100', ...metadata, '-c:a', 'flac'],
    ],
    signal,
  )
}

interface FlacBlock {
  type: number
  body: Buffer
}

function parseFlac(file: Buffer): { blocks: FlacBlock[]; audio: Buffer } {
  if (file.toString('latin1', 0, 4) !== 'fLaC') throw new Error('not a FLAC stream')
  const blocks: FlacBlock[] = []
  let pos = 4
  for (;;) {
    const header = file[pos]!
    const length = file.readUIntBE(pos + 1, 3)
    blocks.push({ type: header & 0x7f, body: file.subarray(pos + 4, pos + 4 + length) })
    pos += 4 + length
    if ((header & 0x80) !== 0) break
  }
  return { blocks, audio: file.subarray(pos) }
}

function blockHeader(type: number, length: number, last: boolean): Buffer {
  const header = Buffer.alloc(4)
  header[0] = (last ? 0x80 : 0) | type
  header.writeUIntBE(length, 1, 3)
  return header
}

/** The same FLAC with its PADDING block sized so that the file is exactly `size` bytes. */
export function padFlacTo(file: Buffer, size: number): Buffer {
  const { blocks, audio } = parseFlac(file)
  const kept = blocks.filter((b) => b.type !== FLAC_PADDING)
  const fixed = 4 + kept.reduce((sum, b) => sum + 4 + b.body.length, 0) + 4 + audio.length
  const padding = size - fixed
  if (padding < 0 || padding >= 2 ** 24)
    throw new Error(`cannot pad a ${file.length}-byte FLAC to ${size} bytes (padding ${padding})`)
  const parts: Buffer[] = [Buffer.from('fLaC', 'latin1')]
  for (const b of kept) parts.push(blockHeader(b.type, b.body.length, false), b.body)
  parts.push(blockHeader(FLAC_PADDING, padding, true), Buffer.alloc(padding), audio)
  const out = Buffer.concat(parts)
  if (out.length !== size) throw new Error(`padded FLAC is ${out.length} bytes, not ${size}`)
  return out
}

/** Bytes per second of the encoder's output for this kind of signal (from a short clip). */
async function flacBytesPerSecond(signal?: AbortSignal): Promise<number> {
  const seconds = 20
  const clip = await encodeFlac(seconds, 99, 330, {}, signal)
  return parseFlac(clip).audio.length / seconds
}

/** A FLAC of exactly `size` bytes: encoded a little short, then padded. */
async function flacOfSize(
  size: number,
  rate: number,
  seed: number,
  frequency: number,
  tags: Record<string, string>,
  signal?: AbortSignal,
): Promise<Buffer> {
  let seconds = Math.floor(((size - 64 * 1024) / rate) * 0.99)
  for (let attempt = 0; attempt < 4; attempt++) {
    const flac = await encodeFlac(seconds, seed, frequency, tags, signal)
    if (flac.length <= size - 1024) return padFlacTo(flac, size)
    seconds = Math.floor(seconds * 0.97)
  }
  throw new Error(`could not encode a FLAC under ${size} bytes`)
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

// ---------------------------------------------------------------------------------------------------------
// The data sets
// ---------------------------------------------------------------------------------------------------------

/** 200 distinct FLAC files of 1 GiB / 200 bytes each, made unless a complete set is there. */
export async function ensureLargeSet(
  benchDir: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<DataSet> {
  const dir = largeSetDir(benchDir)
  const expected = { version: LARGE_VERSION, files: LARGE_FILES, fileBytes: LARGE_FILE_BYTES }
  const reused = await readMarker(dir, expected)
  if (!reused) {
    log(`generating ${LARGE_FILES} distinct FLAC files of ${LARGE_FILE_BYTES} bytes in ${dir} (once)…`)
    const start = nowMs()
    await rm(`${dir}.json`, { force: true })
    await rm(dir, { recursive: true, force: true })
    const album = join(dir, 'Bench Large', 'Large Files')
    await mkdir(album, { recursive: true })
    const rate = await flacBytesPerSecond(signal)
    const indexes = Array.from({ length: LARGE_FILES }, (_, i) => i + 1)
    let done = 0
    let lastLog = nowMs()
    await forEachLimited(indexes, 2, async (i) => {
      const n = String(i).padStart(3, '0')
      const tags = {
        title: `Large ${n}`,
        artist: 'Bench Large',
        album: 'Large Files',
        track: String(i),
      }
      const flac = await flacOfSize(LARGE_FILE_BYTES, rate, 1000 + i, 200 + i * 3, tags, signal)
      await writeFile(join(album, `${n} Large ${n}.flac`), flac)
      done++
      if (msSince(lastLog) > 5000) {
        lastLog = nowMs()
        log(`  ${done}/${LARGE_FILES} files written`)
      }
    })
    const marker: Marker = {
      ...expected,
      seconds: Math.round(msSince(start)) / 1000,
      createdAt: new Date().toISOString(),
    }
    await writeFile(`${dir}.json`, `${JSON.stringify(marker, null, 2)}\n`)
    log(`  done in ${marker.seconds.toFixed(1)} s`)
  }
  const { files, bytes } = await countFiles(dir)
  return { key: '1GiB', label: `1 GiB in ${files} files`, dir, files, bytes, reused }
}

/** The 30 MB FLAC in LONG_FLAC_VARIANTS copies that differ only in the title tag. */
export async function ensureLongFlac(
  benchDir: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<DataSet> {
  const dir = longFlacDir(benchDir)
  const expected = { version: LONG_VERSION, files: LONG_FLAC_VARIANTS, fileBytes: LONG_FLAC_BYTES }
  const reused = await readMarker(dir, expected)
  if (!reused) {
    log(
      `generating a ${LONG_FLAC_BYTES / 1e6} MB FLAC in ${LONG_FLAC_VARIANTS} title variants in ${dir} (once)…`,
    )
    const start = nowMs()
    await rm(`${dir}.json`, { force: true })
    await rm(dir, { recursive: true, force: true })
    const album = join(dir, 'Bench Long', 'Long Takes')
    await mkdir(album, { recursive: true })
    const rate = await flacBytesPerSecond(signal)
    const base = await flacOfSize(
      LONG_FLAC_BYTES,
      rate,
      7,
      440,
      { title: LONG_FLAC_TITLE, artist: 'Bench Long', album: 'Long Takes' },
      signal,
    )
    const at = base.subarray(0, 64 * 1024).indexOf(Buffer.from(LONG_FLAC_TITLE, 'latin1'))
    if (at < 0) throw new Error('the title tag is not in the FLAC header')
    for (let v = 1; v <= LONG_FLAC_VARIANTS; v++) {
      const copy = Buffer.from(base)
      const n = String(v).padStart(2, '0')
      copy.write(`Long Take ${n}`, at, 'latin1')
      await writeFile(join(album, `${n} Long Take ${n}.flac`), copy)
    }
    const marker: Marker = {
      ...expected,
      seconds: Math.round(msSince(start)) / 1000,
      createdAt: new Date().toISOString(),
    }
    await writeFile(`${dir}.json`, `${JSON.stringify(marker, null, 2)}\n`)
  }
  const { files, bytes } = await countFiles(dir)
  return { key: 'flac', label: `${LONG_FLAC_BYTES / 1e6} MB FLAC × ${files}`, dir, files, bytes, reused }
}
