// Generates a large, tagged, playable music library for benchmarks.
//
//   node scripts/gen-library.ts --out <dir> --tracks 10000 [--seconds 8] [--flac-ratio 0.2] [--seed 1]
//                               [--concurrency 32] [--clean] [--json]
//
// ffmpeg runs only a handful of times, to make untagged base clips (sine tones of different pitches, MP3 CBR
// 128k and FLAC). Each track is then one of those clips with its own tag written in front of the audio:
// an ID3v2.4 tag for MP3, a fresh VORBIS_COMMENT block between STREAMINFO and the frames for FLAC.
// Layout: <out>/Artist NNN/Album NNN/NN Title.(mp3|flac), ~10 tracks per album, ~5 albums per artist.

import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

export interface GenerateLibraryOptions {
  out: string
  tracks: number
  /** Length of each track; default 8 s. */
  seconds?: number
  /** Share of albums encoded as FLAC; default 0.2. */
  flacRatio?: number
  seed?: number
  /** Files written at once; default 32. */
  concurrency?: number
  /** Delete `out` first. Without it, `out` must be missing or empty. */
  clean?: boolean
  onProgress?: (done: number, total: number) => void
}

export interface GenerateLibraryResult {
  tracks: number
  mp3: number
  flac: number
  albums: number
  artists: number
  bytes: number
  seconds: number
}

type Format = 'mp3' | 'flac'

interface PlannedTrack {
  path: string
  format: Format
  clip: number
  title: string
  artist: string
  album: string
  trackNo: number
  trackTotal: number
  year: number
  genre: string
}

const BASE_CLIPS = 12
const GENRES = [
  'Rock',
  'Pop',
  'Jazz',
  'Electronic',
  'Classical',
  'Hip-Hop',
  'Folk',
  'Ambient',
  'Metal',
  'Soul',
]
const WORDS = [
  'Silver',
  'Harbor',
  'Velvet',
  'Morning',
  'Echo',
  'Paper',
  'River',
  'Neon',
  'Quiet',
  'Summer',
  'Glass',
  'Winter',
  'Golden',
  'Static',
  'Ocean',
  'Falling',
  'Distant',
  'Electric',
  'Hollow',
  'Midnight',
  'Signal',
  'Garden',
  'Wild',
  'Broken',
  'Crimson',
  'Northern',
  'Lantern',
  'Shadow',
  'Light',
  'Thunder',
  'Feather',
  'Stone',
]

/** mulberry32: a small seeded PRNG, so the same seed gives the same library. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** Decides every track's place and tags: albums of 8–12 tracks, artists of 3–7 albums. */
export function planLibrary(
  tracks: number,
  flacRatio: number,
  seed: number,
): { tracks: PlannedTrack[]; albums: number; artists: number } {
  const random = seededRandom(seed)
  const width = Math.max(3, String(Math.ceil(tracks / 8)).length)
  const planned: PlannedTrack[] = []
  let artists = 0
  let albums = 0
  while (planned.length < tracks) {
    artists++
    const artist = `Artist ${pad(artists, width)}`
    const albumCount = randomInt(random, 3, 7)
    for (let a = 0; a < albumCount && planned.length < tracks; a++) {
      albums++
      const album = `Album ${pad(albums, width)}`
      const format: Format = random() < flacRatio ? 'flac' : 'mp3'
      const year = randomInt(random, 1960, 2024)
      const genre = pick(random, GENRES)
      const trackTotal = Math.min(randomInt(random, 8, 12), tracks - planned.length)
      for (let trackNo = 1; trackNo <= trackTotal; trackNo++) {
        const title = `${pick(random, WORDS)} ${pick(random, WORDS)}`
        planned.push({
          path: join(artist, album, `${pad(trackNo, 2)} ${title}.${format}`),
          format,
          clip: Math.floor(random() * BASE_CLIPS),
          title,
          artist,
          album,
          trackNo,
          trackTotal,
          year,
          genre,
        })
      }
    }
  }
  return { tracks: planned, albums, artists }
}

// ---------------------------------------------------------------------------------------------------------
// Base clips
// ---------------------------------------------------------------------------------------------------------

function runFfmpeg(args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffmpeg',
      ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args],
      { signal },
      (error) => (error ? reject(error) : resolve()),
    )
  })
}

/** A semitone apart from 220 Hz, so every clip sounds different. */
function clipFrequency(clip: number): number {
  return Math.round(220 * 2 ** (clip / 12))
}

async function encodeClip(dir: string, format: Format, clip: number, seconds: number, signal?: AbortSignal) {
  const file = join(dir, `${clip}.${format}`)
  const codec =
    format === 'mp3' ? ['-c:a', 'libmp3lame', '-b:a', '128k', '-id3v2_version', '0'] : ['-c:a', 'flac']
  const source = `sine=frequency=${clipFrequency(clip)}:beep_factor=${1 + (clip % 4)}:duration=${seconds}:sample_rate=44100`
  const input = ['-f', 'lavfi', '-i', source, '-ac', '2']
  const exact = ['-map_metadata', '-1', '-fflags', '+bitexact', '-flags', '+bitexact']
  await runFfmpeg([...input, ...codec, ...exact, file], signal)
  return readFile(file)
}

/** Encodes the base clips, four ffmpeg processes at a time. */
async function encodeClips(format: Format, seconds: number, signal?: AbortSignal): Promise<Buffer[]> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudless-genlib-'))
  try {
    const clips: Buffer[] = []
    await forEachLimited(
      Array.from({ length: BASE_CLIPS }, (_, i) => i),
      4,
      async (clip) => {
        const bytes = await encodeClip(dir, format, clip, seconds, signal)
        clips[clip] = format === 'flac' ? flacWithoutTags(bytes) : bytes
      },
      signal,
    )
    return clips
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------------------

function synchsafe(n: number): Buffer {
  return Buffer.from([(n >>> 21) & 0x7f, (n >>> 14) & 0x7f, (n >>> 7) & 0x7f, n & 0x7f])
}

function id3TextFrame(id: string, text: string): Buffer {
  const body = Buffer.concat([Buffer.from([0x03]), Buffer.from(text, 'utf8')]) // 0x03: UTF-8
  return Buffer.concat([Buffer.from(id, 'latin1'), synchsafe(body.length), Buffer.from([0, 0]), body])
}

/** An ID3v2.4 tag with the usual text frames. */
export function id3v24Tag(track: PlannedTrack): Buffer {
  const frames = Buffer.concat([
    id3TextFrame('TIT2', track.title),
    id3TextFrame('TPE1', track.artist),
    id3TextFrame('TPE2', track.artist),
    id3TextFrame('TALB', track.album),
    id3TextFrame('TRCK', `${track.trackNo}/${track.trackTotal}`),
    id3TextFrame('TPOS', '1/1'),
    id3TextFrame('TDRC', String(track.year)),
    id3TextFrame('TCON', track.genre),
  ])
  const header = Buffer.concat([
    Buffer.from('ID3', 'latin1'),
    Buffer.from([4, 0, 0]),
    synchsafe(frames.length),
  ])
  return Buffer.concat([header, frames])
}

const FLAC_VORBIS_COMMENT = 4
const FLAC_PADDING = 1
const FLAC_KEPT_BLOCKS = new Set([0, 3]) // STREAMINFO, SEEKTABLE (its offsets count from the first frame)

function flacBlockHeader(type: number, length: number, last: boolean): Buffer {
  return Buffer.from([(last ? 0x80 : 0) | type, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff])
}

/**
 * Splits an ffmpeg FLAC file into the blocks worth keeping (with their last-block flags cleared) and the
 * audio frames, so a tag can be put in between: returns `kept blocks + frames`, with `kept.length` in front.
 */
function flacWithoutTags(file: Buffer): Buffer {
  if (file.toString('latin1', 0, 4) !== 'fLaC') throw new Error('ffmpeg did not write a FLAC stream')
  const kept: Buffer[] = []
  let pos = 4
  let last = false
  while (!last) {
    const header = file[pos]!
    last = (header & 0x80) !== 0
    const type = header & 0x7f
    const length = file.readUIntBE(pos + 1, 3)
    if (FLAC_KEPT_BLOCKS.has(type)) {
      kept.push(flacBlockHeader(type, length, false), file.subarray(pos + 4, pos + 4 + length))
    }
    pos += 4 + length
  }
  const blocks = Buffer.concat(kept)
  const lengthPrefix = Buffer.alloc(4)
  lengthPrefix.writeUInt32BE(blocks.length)
  return Buffer.concat([lengthPrefix, blocks, file.subarray(pos)])
}

function vorbisCommentBlock(track: PlannedTrack): Buffer {
  const comments = [
    `TITLE=${track.title}`,
    `ARTIST=${track.artist}`,
    `ALBUMARTIST=${track.artist}`,
    `ALBUM=${track.album}`,
    `TRACKNUMBER=${track.trackNo}`,
    `TRACKTOTAL=${track.trackTotal}`,
    'DISCNUMBER=1',
    'DISCTOTAL=1',
    `DATE=${track.year}`,
    `GENRE=${track.genre}`,
  ]
  const parts = [
    lengthPrefixedLE('Cloudless gen-library'),
    uint32LE(comments.length),
    ...comments.map(lengthPrefixedLE),
  ]
  const body = Buffer.concat(parts)
  return Buffer.concat([flacBlockHeader(FLAC_VORBIS_COMMENT, body.length, false), body])
}

function uint32LE(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

function lengthPrefixedLE(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  return Buffer.concat([uint32LE(bytes.length), bytes])
}

const PADDING_BYTES = 512

/** The parts of one FLAC file: "fLaC", STREAMINFO (+SEEKTABLE), VORBIS_COMMENT, PADDING, frames. */
function flacFileParts(clip: Buffer, track: PlannedTrack): Buffer[] {
  const blocksLength = clip.readUInt32BE(0)
  return [
    Buffer.from('fLaC', 'latin1'),
    clip.subarray(4, 4 + blocksLength),
    vorbisCommentBlock(track),
    flacBlockHeader(FLAC_PADDING, PADDING_BYTES, true),
    Buffer.alloc(PADDING_BYTES),
    clip.subarray(4 + blocksLength),
  ]
}

function trackFileParts(track: PlannedTrack, clips: Record<Format, Buffer[]>): Buffer[] {
  const clip = clips[track.format][track.clip]!
  return track.format === 'mp3' ? [id3v24Tag(track), clip] : flacFileParts(clip, track)
}

// ---------------------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------------------

/** Runs `work` over `items` with at most `limit` calls in flight. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted()
      await work(items[next++]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

async function prepareOutDir(out: string, clean: boolean): Promise<void> {
  if (clean) await rm(out, { recursive: true, force: true })
  await mkdir(out, { recursive: true })
  const existing = await readdir(out)
  if (existing.length > 0)
    throw new Error(`${out} is not empty (pass clean: true / --clean to delete it first)`)
}

export async function generateLibrary(
  opts: GenerateLibraryOptions,
  signal?: AbortSignal,
): Promise<GenerateLibraryResult> {
  const started = performance.now()
  const seconds = opts.seconds ?? 8
  const plan = planLibrary(opts.tracks, opts.flacRatio ?? 0.2, opts.seed ?? 1)
  await prepareOutDir(opts.out, opts.clean ?? false)

  const needs = (format: Format) => plan.tracks.some((t) => t.format === format)
  const clips: Record<Format, Buffer[]> = {
    mp3: needs('mp3') ? await encodeClips('mp3', seconds, signal) : [],
    flac: needs('flac') ? await encodeClips('flac', seconds, signal) : [],
  }

  const albumDirs = [...new Set(plan.tracks.map((t) => join(opts.out, t.artist, t.album)))]
  await forEachLimited(albumDirs, 16, (dir) => mkdir(dir, { recursive: true }).then(() => {}), signal)

  let done = 0
  let bytes = 0
  const concurrency = opts.concurrency ?? 32
  await forEachLimited(
    plan.tracks,
    concurrency,
    async (track) => {
      const parts = trackFileParts(track, clips)
      await writeFile(join(opts.out, track.path), parts, { signal })
      bytes += parts.reduce((sum, part) => sum + part.length, 0)
      done++
      opts.onProgress?.(done, plan.tracks.length)
    },
    signal,
  )

  const mp3 = plan.tracks.filter((t) => t.format === 'mp3').length
  return {
    tracks: plan.tracks.length,
    mp3,
    flac: plan.tracks.length - mp3,
    albums: plan.albums,
    artists: plan.artists,
    bytes,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  }
}

// ---------------------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------------------

/** Reports "done/total, files/s" on stderr, at most every half second. */
function progressReporter(): (done: number, total: number) => void {
  let started = 0 // the first file written, so that encoding the base clips does not count
  let lastReport = 0
  const tty = process.stderr.isTTY
  return (done, total) => {
    const now = performance.now()
    if (started === 0) started = now - 1
    if (now - lastReport < 500 && done < total) return
    lastReport = now
    const rate = Math.round(done / ((now - started) / 1000))
    process.stderr.write(
      `${tty ? '\r' : ''}gen-library: ${done}/${total} tracks, ${rate} files/s${tty ? '' : '\n'}`,
    )
    if (tty && done === total) process.stderr.write('\n')
  }
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${value}`)
  return n
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      tracks: { type: 'string' },
      seconds: { type: 'string' },
      'flac-ratio': { type: 'string' },
      seed: { type: 'string' },
      concurrency: { type: 'string' },
      clean: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  if (!values.out) {
    process.stderr.write(
      'usage: node scripts/gen-library.ts --out <dir> --tracks N [--seconds 8] [--flac-ratio 0.2] [--seed 1]\n' +
        '                                    [--concurrency 32] [--clean] [--json]\n',
    )
    process.exit(2)
  }
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort(new Error('interrupted')))
  const result = await generateLibrary(
    {
      out: values.out,
      tracks: Math.floor(numberOption(values.tracks, 'tracks', 1000)),
      seconds: numberOption(values.seconds, 'seconds', 8),
      flacRatio: numberOption(values['flac-ratio'], 'flac-ratio', 0.2),
      seed: numberOption(values.seed, 'seed', 1),
      concurrency: Math.max(1, Math.floor(numberOption(values.concurrency, 'concurrency', 32))),
      clean: values.clean,
      onProgress: progressReporter(),
    },
    controller.signal,
  )
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } else {
    const mb = (result.bytes / 1e6).toFixed(1)
    process.stdout.write(
      `${result.tracks} tracks (${result.mp3} MP3, ${result.flac} FLAC) in ${result.albums} albums by ` +
        `${result.artists} artists, ${mb} MB, ${result.seconds} s\n`,
    )
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`gen-library: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
