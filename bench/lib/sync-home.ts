/**
 * The home of the device that holds the big catalog, for the sync benchmark: built once into
 * .bench/sync-home-<N> by bench/lib/catalog-child.ts (synthetic tracks, each with a location on that
 * device), with a marker beside it (.bench/sync-home-<N>.json) written only when the build completed.
 * Every run works on a copy in a temp dir, so the cached home never changes (pairings, edits).
 */
import { existsSync } from 'node:fs'
import { cp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BuildResult } from './catalog-child.ts'
import { tempDir } from './cleanup.ts'
import { runNodeJson } from './process.ts'
import type { StateFacts } from './sync-state-child.ts'
import { syntheticTrack } from './synthetic-tracks.ts'
import { msSince, nowMs } from './timing.ts'

export interface SyncHomeMarker {
  tracks: number
  /** A track id the generator gives for track 0: a changed generator invalidates the cache. */
  sampleTrackId: string
  build: BuildResult
  state: StateFacts
  createdAt: string
}

export interface SyncHome {
  /** The cached, never modified home. */
  cached: string
  marker: SyncHomeMarker
  reused: boolean
}

import { SCHEMA_VERSION } from '../../src/crdt/index.ts'

const CATALOG_CHILD = new URL('./catalog-child.ts', import.meta.url).pathname
const STATE_CHILD = new URL('./sync-state-child.ts', import.meta.url).pathname

export function syncHomeDir(benchDir: string, tracks: number): string {
  // The catalog layout's version is part of the name: a home of an older layout is built anew.
  return join(benchDir, `sync-home-v${SCHEMA_VERSION}-${tracks}`)
}

async function readMarker(dir: string, tracks: number): Promise<SyncHomeMarker | null> {
  if (!existsSync(dir)) return null
  try {
    const marker = JSON.parse(await readFile(`${dir}.json`, 'utf8')) as SyncHomeMarker
    const complete =
      marker.tracks === tracks &&
      marker.sampleTrackId === syntheticTrack(0).id &&
      marker.state?.tracks === tracks
    return complete ? marker : null
  } catch {
    return null
  }
}

/** The cached home with `tracks` synthetic tracks, built unless a complete one is there. */
export async function ensureSyncHome(
  benchDir: string,
  tracks: number,
  log: (line: string) => void,
): Promise<SyncHome> {
  const dir = syncHomeDir(benchDir, tracks)
  const found = await readMarker(dir, tracks)
  if (found !== null) return { cached: dir, marker: found, reused: true }
  log(`building a ${tracks}-track catalog home in ${dir} (once; later runs reuse it)…`)
  await rm(`${dir}.json`, { force: true })
  await rm(dir, { recursive: true, force: true })
  const start = nowMs()
  const { value: build } = await runNodeJson<BuildResult>(CATALOG_CHILD, ['build', dir, String(tracks)])
  const { value: state } = await runNodeJson<StateFacts>(STATE_CHILD, [dir])
  if (state.tracks !== tracks) throw new Error(`the built home holds ${state.tracks} tracks, not ${tracks}`)
  log(
    `  built in ${(msSince(start) / 1000).toFixed(1)} s: ${state.tracks} tracks, ` +
      `full state ${(state.stateBytes / 1e6).toFixed(1)} MB`,
  )
  const marker: SyncHomeMarker = {
    tracks,
    sampleTrackId: syntheticTrack(0).id,
    build,
    state,
    createdAt: new Date().toISOString(),
  }
  await writeFile(`${dir}.json`, `${JSON.stringify(marker, null, 2)}\n`)
  return { cached: dir, marker, reused: false }
}

/** A working copy of the cached home in a temp dir (removed at cleanup). */
export async function copyHome(cached: string, prefix: string): Promise<string> {
  const dir = await tempDir(prefix)
  await cp(cached, dir.path, { recursive: true })
  return dir.path
}
