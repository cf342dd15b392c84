import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TrackView } from '../../src/crdt/index.ts'
import { findRunningNode } from '../../src/node/control/client.ts'
import type { CacheStatus } from '../../src/node/ops/media-ops.ts'
import { copyFixtureLibrary } from '../helpers/fixtures.ts'
import { NodeProcess } from '../helpers/node-process.ts'
import { eventually } from '../helpers/wait.ts'

/**
 * A device that sends wrong bytes (test/helpers/lying-device.ts: alpha, a real `cloudless start`
 * whose blob provider flips a byte of every block) must never get them into another device's
 * files: beta refuses them, says which track and block, and takes the music from gamma, an honest
 * device holding the same files. Every device is its own process, over real TCP.
 */

const LYING_DEVICE = fileURLToPath(new URL('../helpers/lying-device.ts', import.meta.url))
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('a device that sends wrong bytes', () => {
  let alphaLib: string
  let gammaLib: string
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  let tracks: TrackView[]

  beforeAll(async () => {
    alphaLib = await copyFixtureLibrary()
    gammaLib = await copyFixtureLibrary()
    a = await NodeProcess.create('alpha')
    b = await NodeProcess.create('beta')
    c = await NodeProcess.create('gamma')
    expect((await a.cli(['scan', alphaLib])).code).toBe(0)
    expect((await c.cli(['scan', gammaLib])).code).toBe(0)
    await Promise.all([a.start([], ['--import', LYING_DEVICE]), b.start(), c.start()])
    expect(a.log).toMatch(/lying-device/)
    const first = await a.cliJson<{ link: string }>(['invite'])
    await b.cliJson(['join', first.link])
    const second = await a.cliJson<{ link: string }>(['invite'])
    expect((await c.cli(['join', second.link])).code).toBe(0)
    tracks = await eventually(
      'beta to list every track with both holders',
      () => b.cliJson<TrackView[]>(['tracks']),
      (list) => list.length > 0 && list.every((t) => new Set(t.locations.map((l) => l.device)).size === 2),
    )
  }, 60_000)
  afterAll(async () => {
    await Promise.all([a, b, c].map((n) => n?.dispose()))
    await fs.rm(alphaLib, { recursive: true, force: true })
    await fs.rm(gammaLib, { recursive: true, force: true })
  })

  const original = (t: TrackView) => fs.readFile(t.locations.find((l) => l.device === a.peerId)!.path)

  it('is refused with an error naming the track, the device and the block; nothing is stored', async () => {
    await c.stop()
    const track = tracks.find((t) => t.size > 0)!
    const out = path.join(b.home, 'refused.bin')
    const result = await b.cli(['get', track.id, '-o', out])
    expect(result.code, result.stderr).toBe(1)
    expect(result.stderr).toContain(`could not get "${track.title}"`)
    expect(result.stderr).toMatch(/alpha sent bytes that do not match their checksum \(block 0\)/)
    expect(result.stderr).toMatch(/gamma cannot be reached/)
    await expect(fs.access(out)).rejects.toThrow()
    // A player asking beta gets an error status, never alpha's wrong bytes.
    const url = (await findRunningNode(b.home))!.httpUrl
    const response = await fetch(`${url}/stream/${track.id}`)
    expect(response.status).toBe(503)
    // A mirror with only alpha online stores nothing, and says why for each track.
    expect((await b.cli(['mirror', 'on'])).code).toBe(0)
    const status = await eventually(
      "beta's mirror to give up on alpha's bytes",
      () => b.cliJson<CacheStatus>(['cache']),
      (s) => s.queued.files === 0 && s.fetching.length > 0 && s.fetching.every((f) => f.state === 'failed'),
      30_000,
    )
    expect(status.usage.completeBlobs).toBe(0)
    for (const f of status.fetching) expect(f.error, f.title).toMatch(/do not match their checksum/)
    // Beta's log says it once per file, however often the fetch is tried again.
    const said = b.log.split('\n').filter((line) => line.includes(`"${track.title}": alpha sent bytes`))
    expect(said).toHaveLength(1)
  }, 60_000)

  // Goes on from the test above: beta's mirror is on, and every track has failed with alpha's bytes.
  it('does not stop a mirror: once gamma is back, beta ends with every file, verified', async () => {
    await c.start()
    const withBytes = tracks.filter((t) => t.size > 0)
    await eventually(
      'beta to mirror every track from gamma',
      () => b.cliJson<CacheStatus>(['cache']),
      (s) =>
        s.fetching.length === 0 &&
        s.queued.files === 0 &&
        (s.pins.find((p) => p.label === 'mirror')?.complete ?? 0) >= withBytes.length,
      60_000,
    )
    const url = (await findRunningNode(b.home))!.httpUrl
    for (const t of withBytes) {
      const bytes = new Uint8Array(await (await fetch(`${url}/stream/${t.id}`)).arrayBuffer())
      expect(sha256(bytes), t.title).toBe(sha256(await original(t)))
    }
  }, 120_000)
})
