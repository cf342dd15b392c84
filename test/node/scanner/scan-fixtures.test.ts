import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listTracks, type TrackView } from '../../../src/crdt/index.ts'
import { type ScanReport, scan } from '../../../src/node/scanner/scanner.ts'
import { tempDevice } from '../../helpers/device.ts'
import { type Expected, FIXTURE_LIBRARY, readExpected } from '../../helpers/fixtures.ts'

// What music-metadata calls each codec, for the short names in expected.json.
const CODEC_PATTERNS: Record<string, RegExp> = {
  mp3: /layer 3|mp3/i,
  flac: /flac/i,
  vorbis: /vorbis/i,
  opus: /opus/i,
  aac: /aac|mp4a/i,
  alac: /alac/i,
  pcm: /pcm/i,
  wavpack: /wavpack|pcm/i,
  wma: /wma|windows media/i,
  h264: /avc|h\.?264|aac/i,
  vp8: /vp8|vorbis|opus/i,
  vp9: /vp9|vorbis|opus/i,
}

describe('scanning the fixture library', () => {
  let ctx: Awaited<ReturnType<typeof tempDevice>>
  let expected: Expected
  let first: ScanReport
  let tracks: TrackView[]
  const byPath = new Map<string, TrackView>()

  beforeAll(async () => {
    expected = await readExpected()
    ctx = await tempDevice()
    first = await scan(ctx.device, [FIXTURE_LIBRARY])
    tracks = listTracks(ctx.device.catalog)
    for (const track of tracks)
      for (const loc of track.locations) byPath.set(loc.path.normalize('NFC'), track)
  })
  afterAll(() => ctx.dispose())

  const track = (relative: string) => {
    const found = byPath.get(path.join(FIXTURE_LIBRARY, relative).normalize('NFC'))
    if (found === undefined) throw new Error(`not indexed: ${relative}`)
    return found
  }

  it('indexes every media file with the tags it was written with', () => {
    for (const media of expected.media) {
      const t = track(media.path)
      const context = `${media.path}`
      expect(t.mediaType, context).toBe(media.mediaType)
      expect(t.title, context).toBe(media.title)
      expect(t.artists, context).toEqual(media.artists)
      if (media.mediaType === 'audio') expect(t.album, context).toBe(media.album)
      expect(t.albumArtist, context).toBe(media.albumArtist)
      expect(t.trackNo, context).toBe(media.trackNo)
      expect(t.discNo, context).toBe(media.discNo)
      if (media.trackTotal !== null) expect(t.trackTotal, context).toBe(media.trackTotal)
      if (media.discTotal !== null) expect(t.discTotal, context).toBe(media.discTotal)
      expect(t.year, context).toBe(media.year)
      expect(t.genres, context).toEqual(media.genres)
      expect(t.compilation, context).toBe(media.compilation)
      expect(t.lossless, context).toBe(media.lossless)
      expect(t.cover !== null, `${context}: cover`).toBe(media.hasCover)
      expect(t.tagSource === 'path', `${context}: from path`).toBe(media.fromPath)
      const pattern = CODEC_PATTERNS[media.codec]
      if (pattern !== undefined) expect(t.codec ?? '', `${context}: codec`).toMatch(pattern)
      expect(t.durationSec ?? 0, `${context}: duration`).toBeGreaterThan(0.5)
      expect(t.mime, `${context}: mime`).not.toBeNull()
    }
  })

  it('makes identical files one track with several locations', () => {
    for (const media of expected.media.filter((m) => m.duplicateOf !== null)) {
      const copy = track(media.path)
      expect(track(media.duplicateOf!).id).toBe(copy.id)
      expect(copy.locations.length).toBeGreaterThanOrEqual(2)
    }
    const distinctFiles = new Set(expected.media.filter((m) => m.duplicateOf === null).map((m) => m.path))
    expect(tracks.length).toBe(distinctFiles.size)
  })

  it('lists every junk file with a reason and skips hidden files silently', () => {
    const skipped = new Map(first.skipped.map((s) => [path.relative(FIXTURE_LIBRARY, s.path), s.reason]))
    for (const junk of expected.junk) {
      expect(skipped.get(junk.path), `${junk.path} should be reported`).toMatch(/\w/)
    }
    for (const hidden of expected.skippedSilently) {
      expect(skipped.has(hidden), `${hidden} should be skipped silently`).toBe(false)
      expect(byPath.has(path.join(FIXTURE_LIBRARY, hidden))).toBe(false)
    }
    expect(first.skipped.length).toBe(expected.junk.length)
  })

  it('stores each cover image once, content-addressed', async () => {
    const covers = new Set(tracks.map((t) => t.cover).filter((c) => c !== null))
    expect(ctx.device.catalog.covers.size).toBe(covers.size)
    for (const cover of covers) expect((await ctx.device.covers.get(cover!)).length).toBeGreaterThan(100)
    const folderArt = expected.media.filter((m) => m.coverSource === 'folder').map((m) => track(m.path).cover)
    expect(folderArt.length).toBeGreaterThan(0)
  })

  it('reads nothing on a second scan of an unchanged library, and does not touch the catalog', async () => {
    let updates = 0
    const count = () => updates++
    ctx.device.catalog.doc.on('update', count)
    const second = await scan(ctx.device, [FIXTURE_LIBRARY])
    ctx.device.catalog.doc.off('update', count)
    expect(second.read).toBe(0)
    expect(second.bytesRead).toBe(0)
    expect(second.unchanged).toBe(first.files - expected.junk.length + countWalkProblems(first))
    expect(second.skipped).toEqual(first.skipped)
    expect(updates).toBe(0)
  })
})

/** Junk reported by the walk itself (broken links, loops) is not a file the index can remember. */
function countWalkProblems(report: ScanReport): number {
  return report.skipped.filter((s) => /symbolic link/.test(s.reason)).length
}
