import { spawnSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, runCli } from '../../helpers/cli.ts'
import { FIXTURE_LIBRARY, readExpected, tempDir } from '../../helpers/fixtures.ts'

describe('the cloudless CLI', () => {
  let home: string
  beforeAll(async () => {
    home = await tempDir('cli')
  })
  afterAll(() => fs.rm(home, { recursive: true, force: true }))

  it('scans, remembers the folder, and prints a JSON summary with skipped files', async () => {
    const result = await runCli(['scan', FIXTURE_LIBRARY, '--json', '--home', home])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout)
    const expected = await readExpected()
    expect(report.added).toBe(new Set(expected.media.filter((m) => m.duplicateOf === null)).size)
    expect(report.skipped).toHaveLength(expected.junk.length)
    for (const s of report.skipped)
      expect(s).toEqual({ path: expect.any(String), reason: expect.any(String) })
    const again = JSON.parse((await runCli(['scan', '--json'], { CLOUDLESS_HOME: home })).stdout)
    expect(again.read).toBe(0)
  })

  it('lists tracks as JSON with the documented fields', async () => {
    const result = await runCli(['tracks', '--json', '--home', home])
    expect(result.code).toBe(0)
    const tracks = JSON.parse(result.stdout) as Array<Record<string, unknown>>
    expect(tracks.length).toBeGreaterThan(20)
    for (const t of tracks) {
      for (const key of [
        'id',
        'title',
        'artists',
        'album',
        'albumArtist',
        'trackNo',
        'discNo',
        'year',
        'genres',
      ]) {
        expect(t, key).toHaveProperty(key)
      }
      for (const key of ['durationSec', 'codec', 'container', 'mediaType', 'size', 'cover', 'locations']) {
        expect(t, key).toHaveProperty(key)
      }
      expect(['audio', 'video']).toContain(t.mediaType)
      const locations = t.locations as unknown[]
      expect(locations.length).toBeGreaterThan(0)
      for (const l of locations) expect(l).toEqual({ device: expect.any(String), path: expect.any(String) })
    }
    expect(tracks.filter((t) => t.mediaType === 'video').length).toBe(2)
  })

  it('prints a status as JSON and as text', async () => {
    const json = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout)
    expect(json.roots).toEqual([FIXTURE_LIBRARY])
    expect(json.tracks).toBeGreaterThan(20)
    expect(json.videos).toBe(2)
    const text = await runCli(['status', '--home', home])
    expect(text.stdout).toMatch(/Catalog\s+\d+ tracks, \d+ albums/)
  })

  it('answers --help everywhere and uses exit code 2 for wrong usage', async () => {
    for (const command of ['scan', 'tracks', 'status', 'start']) {
      const help = await runCli([command, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/^Usage: cloudless/)
    }
    expect((await runCli(['--help'])).code).toBe(0)
    const unknown = await runCli(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/)
    const badFlag = await runCli(['tracks', '--colour'])
    expect(badFlag.code).toBe(2)
    expect(badFlag.stderr).toMatch(/--colour/)
    const badRelay = await runCli(['start', '--relay', 'garbage', '--home', home])
    expect(badRelay.code).toBe(2)
    expect(badRelay.stderr).toMatch(/garbage is not a multiaddr/)
  })

  it('fails with exit code 1 and a clear message when the device is in use by another process', async () => {
    const { Device } = await import('../../../src/node/device/device.ts')
    const device = await Device.open(home)
    try {
      const result = await runCli(['tracks', '--home', home])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/another cloudless process is using/)
    } finally {
      await device.close()
    }
  })

  it('tells the user what to do when started on an old Node', () => {
    const old = spawnSync('/usr/bin/node', [CLI, 'status'], { encoding: 'utf8' })
    if (old.error || /^v2[2-9]/.test(spawnSync('/usr/bin/node', ['-v'], { encoding: 'utf8' }).stdout)) return
    expect(old.status).toBe(1)
    expect(old.stderr).toMatch(/needs Node.js 22.18 or newer/)
    expect(old.stderr).toMatch(/npm start/)
  })
})
