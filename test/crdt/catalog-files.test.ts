import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  Catalog,
  CatalogSchemaError,
  decodeFolder,
  decodeTrackEntry,
  encodeFolder,
  encodeTrackEntry,
  librarySummary,
  listTracks,
  splitPath,
  type TrackRecord,
  UserData,
} from '../../src/crdt/index.ts'
import { trackRecord } from '../helpers/track-record.ts'

function record(title: string, extra: Partial<TrackRecord> = {}): TrackRecord {
  return trackRecord({
    contentId: 'c1',
    size: 1234,
    title,
    artists: ['Artist'],
    album: 'Album',
    trackNo: 1,
    durationSec: 61.5,
    codec: 'MPEG 1 Layer 3',
    container: 'MPEG',
    mime: 'audio/mpeg',
    bitrate: 128000,
    sampleRate: 44100,
    channels: 2,
    addedAt: 100,
    ...extra,
  })
}

function sync(...docs: Y.Doc[]): void {
  for (const from of docs)
    for (const to of docs)
      if (from !== to) Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))
}

describe('track entries', () => {
  it('round-trip every field, and leave out empty ones and the id when it is the content id', () => {
    const full = record('Full', {
      mediaType: 'video',
      albumArtist: 'AA',
      trackTotal: 9,
      discNo: 2,
      discTotal: 2,
      year: 1999,
      genres: ['Jazz', 'Soul'],
      compilation: true,
      bitsPerSample: 24,
      lossless: true,
      width: 1920,
      height: 1080,
      musicbrainz: {
        trackId: 't',
        recordingId: 'r',
        albumId: 'a',
        artistIds: ['x'],
        albumArtistIds: ['y'],
        releaseGroupId: 'g',
      },
      replayGain: { trackGainDb: -7.5, trackPeak: 0.98, albumGainDb: -8, albumPeak: 1 },
      lyrics: 'la la',
      cover: 'cover1',
      tagSource: 'mixed',
    })
    expect(decodeTrackEntry(encodeTrackEntry('c1', full))).toEqual(full)
    const plain = record('Plain')
    const entry = encodeTrackEntry('c1', plain)
    expect(decodeTrackEntry(entry)).toEqual(plain)
    expect(entry.i).toBeUndefined()
    expect(Object.keys(entry)).not.toContain('mb')
    expect(JSON.stringify(entry).length).toBeLessThan(JSON.stringify(plain).length / 2)
    expect(encodeTrackEntry('other-id', plain).i).toBe('other-id')
  })

  it('store the fields that every file of a folder shares once', () => {
    const entries = {
      '01.mp3': encodeTrackEntry(
        'a',
        record('One', { contentId: 'a', year: 2001, musicbrainz: { albumId: 'alb', trackId: 't1' } }),
      ),
      '02.mp3': encodeTrackEntry(
        'b',
        record('Two', { contentId: 'b', year: 2001, musicbrainz: { albumId: 'alb', trackId: 't2' } }),
      ),
    }
    const json = encodeFolder(entries)
    expect(json.match(/"alb"/g)).toHaveLength(1)
    expect(json.match(/2001/g)).toHaveLength(1)
    expect(decodeFolder(json)).toEqual(entries)
    const single = { '01.mp3': entries['01.mp3'] }
    expect(decodeFolder(encodeFolder(single))).toEqual(single)
  })

  it('splits paths so that folder + name gives the path back', () => {
    expect(splitPath('/music/A/01 x.mp3')).toEqual({ folder: '/music/A/', name: '01 x.mp3' })
    expect(splitPath('C:\\Music\\x.flac')).toEqual({ folder: 'C:\\Music\\', name: 'x.flac' })
    expect(splitPath('/x.mp3')).toEqual({ folder: '/', name: 'x.mp3' })
  })
})

describe('files per device and folder', () => {
  it('writes one map value per folder in a transaction, however many files it adds', () => {
    const catalog = new Catalog()
    let writes = 0
    catalog.files.observe((event) => {
      writes += event.keysChanged.size
    })
    catalog.transact(() => {
      for (let i = 0; i < 20; i++)
        catalog.putFile(
          'dev-a',
          `/music/Album ${i % 2}/${i}.mp3`,
          `t${i}`,
          record(`T${i}`, { contentId: `t${i}` }),
        )
    })
    expect(writes).toBe(2)
    expect(catalog.files.size).toBe(2)
    expect(catalog.trackCount).toBe(20)
    expect(catalog.getTrack('t7')?.title).toBe('T7')
    expect(catalog.locationsOf('t7')).toEqual([{ device: 'dev-a', path: '/music/Album 1/7.mp3' }])
    // The same again changes nothing.
    catalog.transact(() =>
      catalog.putFile('dev-a', '/music/Album 1/7.mp3', 't7', record('T7', { contentId: 't7' })),
    )
    expect(writes).toBe(2)
  })

  it('sees a track held on two devices once, with the record of the holder that had it first', () => {
    const a = new Catalog()
    const b = new Catalog()
    a.putFile('dev-a', '/a/song.mp3', 'c1', record('From A', { addedAt: 200 }))
    b.putFile('dev-b', '/b/copy.mp3', 'c1', record('From B', { addedAt: 100 }))
    sync(a.doc, b.doc)
    for (const catalog of [a, b]) {
      expect(catalog.trackCount).toBe(1)
      expect(catalog.getTrack('c1')?.title).toBe('From B')
      expect([...catalog.trackEntries()].map(([id, r]) => [id, r.title])).toEqual([['c1', 'From B']])
      expect(catalog.locationsOf('c1')).toEqual([
        { device: 'dev-a', path: '/a/song.mp3' },
        { device: 'dev-b', path: '/b/copy.mp3' },
      ])
      expect(listTracks(catalog)).toHaveLength(1)
    }
    // B deletes its copy: the track stays with A's file and record.
    b.removeFile('dev-b', '/b/copy.mp3')
    sync(a.doc, b.doc)
    expect(a.getTrack('c1')?.title).toBe('From A')
    expect(a.holdingsOf('dev-b')).toEqual({ files: 0, tracks: 0, bytes: 0 })
    expect(a.holdingsOf('dev-a')).toEqual({ files: 1, tracks: 1, bytes: 1234 })
    // A deletes the last copy: the track is gone.
    a.removeFile('dev-a', '/a/song.mp3')
    sync(a.doc, b.doc)
    expect(b.getTrack('c1')).toBeUndefined()
    expect(b.trackCount).toBe(0)
    expect(b.files.size).toBe(0)
  })

  it('finds the tracks of a content id, for retagged files too', () => {
    const catalog = new Catalog()
    catalog.transact(() => {
      catalog.putFile('dev-a', '/m/one.mp3', 'c1', record('One'))
      catalog.putFile('dev-a', '/m/retagged.mp3', 'old-id', record('Retagged', { contentId: 'c2' }))
    })
    expect(catalog.tracksOfContent('c1')).toEqual(['c1'])
    expect(catalog.tracksOfContent('c2')).toEqual(['old-id'])
    expect(catalog.tracksOfContent('old-id')).toEqual([])
    expect(catalog.contentIndex()).toEqual(
      new Map([
        ['c1', 'c1'],
        ['c2', 'old-id'],
      ]),
    )
    // The same, read back from the stored values on another device.
    const other = new Catalog()
    sync(catalog.doc, other.doc)
    expect(other.tracksOfContent('c2')).toEqual(['old-id'])
    expect(other.getTrack('old-id')).toMatchObject({ contentId: 'c2', size: 1234, title: 'Retagged' })
    expect(other.holdingsOf('dev-a')).toEqual({ files: 2, tracks: 2, bytes: 2468 })
    catalog.removeFile('dev-a', '/m/retagged.mp3')
    expect(catalog.tracksOfContent('c2')).toEqual([])
  })

  it('reads inside a transaction what the transaction wrote', () => {
    const catalog = new Catalog()
    catalog.transact(() => {
      catalog.putFile('dev-a', '/m/one.mp3', 'c1', record('One'))
      expect(catalog.getTrack('c1')?.title).toBe('One')
      expect(catalog.fileCount('c1')).toBe(1)
      catalog.removeFile('dev-a', '/m/one.mp3')
      expect(catalog.fileCount('c1')).toBe(0)
      catalog.putFile('dev-a', '/m/two.mp3', 'c1', record('Two'))
    })
    expect(catalog.pathsOn('c1', 'dev-a')).toEqual(['/m/two.mp3'])
  })

  it('keeps its index in step with changes that arrive from another device', () => {
    const a = new Catalog()
    const b = new Catalog()
    expect(b.trackCount).toBe(0) // index built while empty
    a.putFile('dev-a', '/m/one.mp3', 'c1', record('One'))
    sync(a.doc, b.doc)
    expect(b.getTrack('c1')?.title).toBe('One')
    a.putFile('dev-a', '/m/one.mp3', 'c1', record('Renamed'))
    sync(a.doc, b.doc)
    expect(b.getTrack('c1')?.title).toBe('Renamed')
  })

  it('refuses a catalog of another layout with CatalogSchemaError', () => {
    const doc = new Y.Doc()
    doc.getMap('meta').set('schema', 1)
    expect(() => new Catalog(doc).checkSchema()).toThrow(CatalogSchemaError)
    const fresh = new Catalog()
    fresh.initLibrary('lib')
    expect(() => fresh.checkSchema()).not.toThrow()
  })
})

describe('library summary', () => {
  it('counts as a listing would, and follows added files, removed files and edits (also from another device)', () => {
    const catalog = new Catalog()
    catalog.putFile('dev-a', '/m/1.mp3', 't1', record('One', { contentId: 't1' }))
    catalog.putFile(
      'dev-a',
      '/m/2.mp3',
      't2',
      record('Two', { contentId: 't2', artists: ['Other'], albumArtist: 'Artist' }),
    )
    expect(librarySummary(catalog)).toEqual({ tracks: 2, videos: 0, albums: 1, artists: 2 })
    // Device records change often and count for nothing here.
    catalog.putDevice('dev-a', { name: 'a', addedAt: 1, lastSeen: 2 })
    expect(librarySummary(catalog)).toEqual({ tracks: 2, videos: 0, albums: 1, artists: 2 })

    catalog.putFile('dev-a', '/m/3.mp4', 't3', record('Film', { contentId: 't3', mediaType: 'video' }))
    expect(librarySummary(catalog)).toMatchObject({ tracks: 2, videos: 1 })
    UserData.of(catalog).setEdit('t2', 'album', 'Another Album')
    expect(librarySummary(catalog)).toMatchObject({ albums: 2 })
    catalog.removeFile('dev-a', '/m/1.mp3')
    expect(librarySummary(catalog)).toEqual({ tracks: 1, videos: 1, albums: 1, artists: 1 })

    const other = new Catalog()
    sync(catalog.doc, other.doc)
    expect(librarySummary(other)).toEqual(librarySummary(catalog))
    other.putFile('dev-b', '/n/4.mp3', 't4', record('Four', { contentId: 't4', album: 'B-Side' }))
    sync(catalog.doc, other.doc)
    expect(librarySummary(catalog)).toEqual({ tracks: 2, videos: 1, albums: 2, artists: 2 })
  })
})
