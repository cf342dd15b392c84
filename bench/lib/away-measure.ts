import type { BedProcess, HttpGetResult } from '../../test/nat/bed.ts'
import type { Away } from '../../test/nat/scenario.ts'

export interface PathFigures {
  path: 'relayed' | 'hole punched' | 'lan'
  /** What `cloudless devices` said of the connection while measuring. */
  address: string
  rttMs: number | null
  runs: Array<{ bytes: number; firstByteMs: number; totalMs: number; mbPerSec: number }>
}

/**
 * Streams `tracks` (each once: a second time would come from the cache) through the laptop's
 * /stream, checking every byte against the file's SHA-256.
 */
export async function measurePath(
  away: Away,
  laptop: BedProcess,
  path: PathFigures['path'],
  tracks: Away['tracks'],
): Promise<PathFigures> {
  const rows = await laptop.cliJson<
    Array<{ id: string; connection: { address: string; reach: string; rttMs: number | null } | null }>
  >(['devices'])
  const home = rows.find((r) => r.id === away.home.peerId)
  const runs: PathFigures['runs'] = []
  for (const track of tracks) {
    const got: HttpGetResult = await laptop.get(`/stream/${track.id}`)
    if (got.status !== 200 || got.sha256 !== track.sha256)
      throw new Error(`${path}: track ${track.id} arrived wrong (status ${got.status}, ${got.bytes} bytes)`)
    runs.push({
      bytes: got.bytes,
      firstByteMs: got.firstByteMs,
      totalMs: got.totalMs,
      mbPerSec: got.bytes / 1e6 / (got.totalMs / 1000),
    })
  }
  return { path, address: home?.connection?.address ?? '?', rttMs: home?.connection?.rttMs ?? null, runs }
}
