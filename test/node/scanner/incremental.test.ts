import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { listTracks } from '../../../src/crdt/index.ts'
import type { Device } from '../../../src/node/device/device.ts'
import { scan } from '../../../src/node/scanner/scanner.ts'
import { watchLibrary } from '../../../src/node/scanner/watch.ts'
import { tempDevice } from '../../helpers/device.ts'
import { copyFixtureLibrary } from '../../helpers/fixtures.ts'

let lib: string
let ctx: Awaited<ReturnType<typeof tempDevice>>

beforeEach(async () => {
  lib = await copyFixtureLibrary()
  ctx = await tempDevice()
  await scan(ctx.device, [lib])
})
afterEach(async () => {
  await ctx.dispose()
  await fs.rm(lib, { recursive: true, force: true })
})

const SONG = 'Paper Planes/Origami/01 Fold.mp3'

function trackAt(device: Device, file: string) {
  return listTracks(device.catalog).find((t) => t.locations.some((l) => l.path === path.join(lib, file)))
}

it('keeps a moved or renamed file as the same track, reading only that file', async () => {
  const before = trackAt(ctx.device, SONG)!
  await fs.mkdir(path.join(lib, 'Moved'), { recursive: true })
  await fs.rename(path.join(lib, SONG), path.join(lib, 'Moved/renamed.mp3'))
  const report = await scan(ctx.device, [lib])
  expect(report.read).toBe(1)
  expect(report.added).toBe(0)
  expect(report.removed).toBe(0)
  const after = trackAt(ctx.device, 'Moved/renamed.mp3')!
  expect(after.id).toBe(before.id)
  expect(after.locations.map((l) => l.path)).toEqual([path.join(lib, 'Moved/renamed.mp3')])
})

it('reads a changed file again and keeps its track id', async () => {
  const before = trackAt(ctx.device, SONG)!
  const file = path.join(lib, SONG)
  const retagged = path.join(lib, 'retagged.tmp.mp3')
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-i',
    file,
    '-map',
    '0',
    '-c',
    'copy',
    '-metadata',
    'title=Fold (Remastered)',
    retagged,
  ])
  await fs.rename(retagged, file)
  const report = await scan(ctx.device, [lib])
  expect(report.read).toBe(1)
  expect(report.updated).toBe(1)
  const after = trackAt(ctx.device, SONG)!
  expect(after.id).toBe(before.id)
  expect(after.title).toBe('Fold (Remastered)')
  expect(after.contentId).not.toBe(before.contentId)
})

it('drops the location of a deleted file, and the track when no copy is left', async () => {
  const id = trackAt(ctx.device, SONG)!.id
  await fs.rm(path.join(lib, SONG))
  const report = await scan(ctx.device, [lib])
  expect(report.removed).toBe(1)
  expect(report.read).toBe(0)
  expect(listTracks(ctx.device.catalog).some((t) => t.id === id)).toBe(false)
  expect(ctx.device.catalog.getTrack(id)).toBeUndefined()
})

it('keeps a track that still has a copy when one copy is deleted', async () => {
  const copy = 'Backup/Second Wind (copy).mp3'
  const track = trackAt(ctx.device, copy)!
  expect(track.locations.length).toBe(2)
  await fs.rm(path.join(lib, copy))
  const report = await scan(ctx.device, [lib])
  expect(report.removed).toBe(0)
  expect(listTracks(ctx.device.catalog).find((t) => t.id === track.id)?.locations.length).toBe(1)
})

it('does not drop anything when a library folder is unreachable (an unmounted disk)', async () => {
  const count = listTracks(ctx.device.catalog).length
  const hidden = `${lib}.away`
  await fs.rename(lib, hidden)
  try {
    const report = await scan(ctx.device, [lib])
    expect(report.removed).toBe(0)
    expect(report.skipped.some((s) => s.path === lib && /cannot be read/.test(s.reason))).toBe(true)
    expect(listTracks(ctx.device.catalog).length).toBe(count)
  } finally {
    await fs.rename(hidden, lib)
  }
})

it('survives a restart: the catalog loads from disk and a rescan reads nothing', async () => {
  const before = listTracks(ctx.device.catalog)
  const device = await ctx.reopen()
  expect(listTracks(device.catalog)).toEqual(before)
  const report = await scan(device, [lib])
  expect(report.read).toBe(0)
})

it('picks up added, changed and removed files while watching', async () => {
  const controller = new AbortController()
  const reports: Array<{ read: number; removed: number }> = []
  const watching = watchLibrary(ctx.device, [lib], {
    signal: controller.signal,
    debounceMs: 200,
    onScan: (r) => reports.push(r),
  })
  try {
    const added = path.join(lib, 'Paper Planes/Origami/09 New Song.mp3')
    execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=660:duration=1', '-metadata', 'title=New Song',
      '-metadata', 'artist=Paper Planes', '-metadata', 'album=Origami', '-b:a', '64k', added,
    ]) // biome-ignore format: argument list
    await until(() => trackAt(ctx.device, 'Paper Planes/Origami/09 New Song.mp3')?.title === 'New Song')
    await fs.rm(added)
    await until(() => trackAt(ctx.device, 'Paper Planes/Origami/09 New Song.mp3') === undefined)
  } finally {
    controller.abort()
    await watching
  }
  expect(reports.length).toBeGreaterThanOrEqual(2)
})

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within the time limit')
    await new Promise((r) => setTimeout(r, 50))
  }
}
