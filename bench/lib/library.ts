/**
 * The generated benchmark library: made once by scripts/gen-library.ts, kept in .bench/lib-<N> with a
 * marker file beside it (.bench/lib-<N>.json), and reused while the marker says it is complete.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type GenerateLibraryResult, generateLibrary } from '../../scripts/gen-library.ts'
import { runShell, shellQuote } from './process.ts'
import { msSince, nowMs } from './timing.ts'

export interface LibraryMarker {
  tracks: number
  seconds: number
  generated: GenerateLibraryResult
  createdAt: string
}

export interface BenchLibrary {
  dir: string
  files: number
  bytes: number
  reused: boolean
  marker: LibraryMarker
}

const SECONDS_PER_TRACK = 8

export function libraryDir(benchDir: string, tracks: number): string {
  return join(benchDir, `lib-${tracks}`)
}

function markerPath(dir: string): string {
  return `${dir}.json`
}

async function readMarker(dir: string, tracks: number): Promise<LibraryMarker | null> {
  if (!existsSync(dir)) return null
  try {
    const marker = JSON.parse(await readFile(markerPath(dir), 'utf8')) as LibraryMarker
    return marker.tracks === tracks && marker.seconds === SECONDS_PER_TRACK ? marker : null
  } catch {
    return null
  }
}

/** The library of `tracks` tracks, generated unless a complete one is already there. */
export async function ensureLibrary(
  benchDir: string,
  tracks: number,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<BenchLibrary> {
  const dir = libraryDir(benchDir, tracks)
  let marker = await readMarker(dir, tracks)
  const reused = marker !== null
  if (marker === null) {
    log(`generating a ${tracks}-track library in ${dir} (once; later runs reuse it)…`)
    await rm(markerPath(dir), { force: true })
    let lastLog = 0
    const generated = await generateLibrary(
      {
        out: dir,
        tracks,
        seconds: SECONDS_PER_TRACK,
        clean: true,
        onProgress: (done, total) => {
          if (done === total || msSince(lastLog) > 2000) {
            lastLog = nowMs()
            log(`  ${done}/${total} files written`)
          }
        },
      },
      signal,
    )
    marker = { tracks, seconds: SECONDS_PER_TRACK, generated, createdAt: new Date().toISOString() }
    await writeFile(markerPath(dir), `${JSON.stringify(marker, null, 2)}\n`)
  }
  const { files, bytes } = await countFiles(dir)
  return { dir, files, bytes, reused, marker }
}

/** Regular files under `dir` and their total size (what sha256sum and the scanners read). */
export async function countFiles(dir: string): Promise<{ files: number; bytes: number }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  let files = 0
  let bytes = 0
  for (const entry of entries) {
    if (!entry.isFile()) continue
    files++
    bytes += (await stat(join(entry.parentPath, entry.name))).size
  }
  return { files, bytes }
}

/** Reads every file once so that all the measurements that follow find them in the page cache. */
export async function warmPageCache(dir: string): Promise<{ ms: number }> {
  const start = nowMs()
  await runShell(`find ${shellQuote(dir)} -type f -print0 | xargs -0 cat > /dev/null`)
  return { ms: msSince(start) }
}
