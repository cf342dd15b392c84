import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TrackView } from '../../src/crdt/index.ts'
import { findRunningNode } from '../../src/node/control/client.ts'
import type { CacheStatus } from '../../src/node/ops/media-ops.ts'
import { copyFixtureLibrary, tempDir } from '../helpers/fixtures.ts'
import { NodeProcess } from '../helpers/node-process.ts'
import { eventually } from '../helpers/wait.ts'

/**
 * Issue 4 as a user lives it: alpha holds the music, beta holds none, gamma holds one big FLAC too.
 * Every device is a real `cloudless start` process; beta's /stream must give exactly alpha's bytes.
 */

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

async function httpOf(node: NodeProcess): Promise<string> {
  const info = await findRunningNode(node.home)
  if (info === undefined) throw new Error(`${node.name} is not running`)
  return info.httpUrl
}

describe('any track plays on any device', () => {
  let lib: string
  let gammaLib: string
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let big: TrackView
  let bigBytes: Buffer

  beforeAll(async () => {
    lib = await copyFixtureLibrary()
    const bigPath = path.join(lib, 'Big Band/Long Takes/01 Long Flac.flac')
    await fs.mkdir(path.dirname(bigPath), { recursive: true })
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=60', '-f', 'lavfi', '-i', 'anoisesrc=d=60:a=0.05:seed=7',
      '-filter_complex', 'amix=inputs=2', '-ac', '2', '-ar', '44100', '-metadata', 'title=Long Flac', '-metadata', 'artist=Big Band',
      '-metadata', 'album=Long Takes', '-c:a', 'flac', bigPath,
    ]) // biome-ignore format: argument list
    bigBytes = await fs.readFile(bigPath)
    gammaLib = await tempDir('gamma-lib')
    await fs.copyFile(bigPath, path.join(gammaLib, 'same-long-flac.flac'))

    a = await NodeProcess.create('alpha')
    b = await NodeProcess.create('beta')
    c = await NodeProcess.create('gamma')
    expect((await a.cli(['scan', lib])).code).toBe(0)
    expect((await c.cli(['scan', gammaLib])).code).toBe(0)
    await Promise.all([a.start(), b.start(), c.start()])
    const first = await a.cliJson<{ link: string }>(['invite'])
    await b.cliJson(['join', first.link])
    const second = await a.cliJson<{ link: string }>(['invite'])
    expect((await c.cli(['join', second.link])).code).toBe(0)
    const tracks = await eventually(
      'beta to list the big track with two holders',
      () => b.cliJson<TrackView[]>(['tracks']),
      (list) => (list.find((t) => t.title === 'Long Flac')?.locations.length ?? 0) === 2,
    )
    big = tracks.find((t) => t.title === 'Long Flac')!
    expect(big.size).toBeGreaterThan(5 * 256 * 1024)
  })
  afterAll(async () => {
    await Promise.all([a, b, c].map((n) => n?.dispose()))
    await fs.rm(lib, { recursive: true, force: true })
    await fs.rm(gammaLib, { recursive: true, force: true })
  })

  it("serves every track on beta with exactly alpha's bytes, whole and in ranges", async () => {
    const url = await httpOf(b)
    const tracks = await b.cliJson<TrackView[]>(['tracks'])
    for (const track of tracks.filter((t) => t.locations.some((l) => l.device === a.peerId))) {
      const response = await fetch(`${url}/stream/${track.id}`)
      expect(response.status, track.title).toBe(200)
      expect(response.headers.get('accept-ranges')).toBe('bytes')
      expect(response.headers.get('content-type'), track.title).toBe(track.mime)
      expect(response.headers.get('etag')).toBe(`"${track.contentId}"`)
      const original = await fs.readFile(track.locations.find((l) => l.device === a.peerId)!.path)
      expect(sha256(new Uint8Array(await response.arrayBuffer())), track.title).toBe(sha256(original))
    }
    // A seek into the middle of the FLAC: a range that starts inside a block and spans three.
    const start = 3 * 256 * 1024 + 1000
    const end = start + 600_000
    const ranged = await fetch(`${url}/stream/${big.id}`, { headers: { range: `bytes=${start}-${end}` } })
    expect(ranged.status).toBe(206)
    expect(ranged.headers.get('content-range')).toBe(`bytes ${start}-${end}/${bigBytes.length}`)
    expect(Number(ranged.headers.get('content-length'))).toBe(end - start + 1)
    expect(sha256(new Uint8Array(await ranged.arrayBuffer()))).toBe(sha256(bigBytes.subarray(start, end + 1)))
    const suffix = await fetch(`${url}/stream/${big.id}`, { headers: { range: 'bytes=-1000' } })
    expect(sha256(new Uint8Array(await suffix.arrayBuffer()))).toBe(
      sha256(bigBytes.subarray(bigBytes.length - 1000)),
    )
    const beyond = await fetch(`${url}/stream/${big.id}`, { headers: { range: `bytes=${bigBytes.length}-` } })
    expect(beyond.status).toBe(416)
  })

  it("lets ffmpeg decode and seek beta's URL of a track only alpha holds", async () => {
    const url = await httpOf(b)
    const solar = (await b.cliJson<TrackView[]>(['tracks'])).find((t) => t.title === 'Solar Wind')!
    expect(solar.locations.map((l) => l.device)).toEqual([a.peerId])
    execFileSync('ffmpeg', ['-v', 'error', '-i', `${url}/stream/${solar.id}`, '-f', 'null', '-'])
    const out = execFileSync(
      'ffmpeg',
      ['-v', 'error', '-ss', '30', '-i', `${url}/stream/${big.id}`, '-t', '2', '-f', 'null', '-'],
      {
        encoding: 'utf8',
      },
    )
    expect(out).toBe('')
    const probe = execFileSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', `${url}/stream/${big.id}`],
      {
        encoding: 'utf8',
      },
    )
    expect(Number(probe)).toBeCloseTo(60, 0)
  })

  it('detects a corrupted cache blob on disk and fetches it again', async () => {
    const url = await httpOf(b)
    const solar = (await b.cliJson<TrackView[]>(['tracks'])).find((t) => t.title === 'Solar Wind')!
    const cached = path.join(b.home, 'cache', 'blobs', solar.contentId.slice(0, 2), `${solar.contentId}.blob`)
    const bytes = await fs.readFile(cached)
    bytes[100] = (bytes[100]! + 1) % 256
    await fs.writeFile(cached, bytes)
    const again = await fetch(`${url}/stream/${solar.id}`)
    const original = await fs.readFile(solar.locations[0]!.path)
    expect(sha256(new Uint8Array(await again.arrayBuffer()))).toBe(sha256(original))
  })

  it('keeps pins through eviction and a restart', async () => {
    const pinned = await b.cliJson<{ tracks: number }>(['pin', 'Format Sampler'])
    expect(pinned.tracks).toBe(8)
    await eventually(
      'the album to be fetched',
      () => b.cliJson<CacheStatus>(['cache']),
      (s) => s.pins.some((p) => p.label.includes('Format Sampler') && p.complete === 8),
    )
    expect((await b.cli(['cache', '--limit', '1KB'])).code).toBe(0)
    const url = await httpOf(b)
    for (const t of (await b.cliJson<TrackView[]>(['tracks'])).filter((x) => x.album === 'Origami')) {
      await (await fetch(`${url}/stream/${t.id}`)).arrayBuffer()
    }
    const afterEviction = await b.cliJson<CacheStatus>(['cache'])
    expect(afterEviction.pins.find((p) => p.label.includes('Format Sampler'))?.complete).toBe(8)
    expect(afterEviction.usage.completeBlobs).toBeLessThanOrEqual(8 + 1)
    await b.stop()
    await b.start()
    const afterRestart = await b.cliJson<CacheStatus>(['cache'])
    expect(afterRestart.pins.find((p) => p.label.includes('Format Sampler'))?.complete).toBe(8)
    expect(afterRestart.usage.limitBytes).toBe(1000)
    expect((await b.cli(['cache', '--limit', '4GB'])).code).toBe(0)
  })

  it('finishes a download from gamma when alpha stops in the middle of it', async () => {
    const url = await httpOf(b)
    await eventually(
      'beta to be connected to gamma (it may have just restarted)',
      () => b.cliJson<Array<{ id: string; online: boolean }>>(['devices']),
      (list) => list.find((d) => d.id === c.peerId)?.online === true,
    )
    // The streamer fetches on demand as the player reads: read a little, then stop alpha.
    const response = await fetch(`${url}/stream/${big.id}`, { headers: { range: 'bytes=0-' } })
    const reader = response.body!.getReader()
    const chunks: Uint8Array[] = []
    let received = 0
    while (received < 300_000) {
      const { value, done } = await reader.read()
      if (done) break
      chunks.push(value)
      received += value.length
    }
    await a.stop('SIGKILL')
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        chunks.push(value)
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}; beta's log:\n${b.log.split('\n').slice(-30).join('\n')}`)
    }
    const all = Buffer.concat(chunks)
    expect(all.length).toBe(bigBytes.length)
    expect(sha256(all)).toBe(sha256(bigBytes))
    await a.start()
  })

  it('fails with a clear error when no device holding the track is reachable', async () => {
    await a.stop()
    const solar = (await b.cliJson<TrackView[]>(['tracks'])).find((t) => t.title === 'Crease')!
    const out = path.join(b.home, 'crease.mp3')
    const result = await b.cli(['get', solar.id, '-o', out])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/no device/i)
    await expect(fs.access(out)).rejects.toThrow()
    await a.start()
  })

  it('makes a mirror device hold every file of the library, verified', async () => {
    expect((await c.cli(['mirror', 'on'])).code).toBe(0)
    const trackCount = (await c.cliJson<TrackView[]>(['tracks'])).length
    const status = await eventually(
      'gamma to mirror everything',
      () => c.cliJson<CacheStatus>(['cache']),
      (s) =>
        s.fetching.length === 0 &&
        s.queued.files === 0 &&
        s.pins.find((p) => p.label === 'mirror')?.complete === trackCount - 1,
      60_000,
    )
    expect(status.mirror).toBe(true)
    expect(status.queued).toEqual({ files: 0, bytes: 0 })
    // Every mirrored blob reads back verified: get each through gamma and compare with alpha's file.
    const url = await httpOf(c)
    for (const t of (await c.cliJson<TrackView[]>(['tracks'])).filter((x) => x.id !== big.id)) {
      const bytes = new Uint8Array(await (await fetch(`${url}/stream/${t.id}`)).arrayBuffer())
      expect(sha256(bytes), t.title).toBe(
        t.contentId.length > 0
          ? sha256(await fs.readFile(t.locations.find((l) => l.device === a.peerId)!.path))
          : '',
      )
    }
  }, 120_000)
})
