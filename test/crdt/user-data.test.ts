import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  Catalog,
  findTrack,
  InvalidUserDataError,
  listPlaylists,
  listTracks,
  PlaylistNotFoundError,
  PlaylistPositionError,
  type TrackRecord,
  UserData,
} from '../../src/crdt/index.ts'
import { trackRecord } from '../helpers/track-record.ts'

/** A device: its own document, catalog and user data. */
function device(): { doc: Y.Doc; catalog: Catalog; user: UserData } {
  const doc = new Y.Doc()
  return { doc, catalog: new Catalog(doc), user: new UserData(doc) }
}

/** Sends every update each doc lacks, in the given order: like peers meeting after being offline. */
function sync(...docs: Y.Doc[]): void {
  for (const from of docs)
    for (const to of docs)
      if (from !== to) Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))
}

function record(title: string, extra: Partial<TrackRecord> = {}): TrackRecord {
  return trackRecord({
    contentId: `c-${title}`,
    size: 1000,
    title,
    artists: ['Scanned Artist'],
    album: 'Scanned Album',
    trackNo: 1,
    year: 2001,
    durationSec: 100,
    codec: 'mp3',
    container: 'mp3',
    mime: 'audio/mpeg',
    addedAt: 1,
    ...extra,
  })
}

/** Two devices that share one library with track `t1` (held by device a). */
function twoDevices() {
  const a = device()
  const b = device()
  a.catalog.putFile('dev-a', '/music/t1.mp3', 't1', record('Original'))
  sync(a.doc, b.doc)
  return { a, b }
}

describe('edits', () => {
  it('keeps edits of different fields made on two devices at once', () => {
    const { a, b } = twoDevices()
    a.user.setEdit('t1', 'title', 'Fixed Title')
    b.user.setEdits('t1', { artists: ['Real Artist', 'Guest'], year: 1999 })
    sync(b.doc, a.doc)
    for (const d of [a, b]) {
      const t = findTrack(d.catalog, 't1')!
      expect(t.title).toBe('Fixed Title')
      expect(t.artists).toEqual(['Real Artist', 'Guest'])
      expect(t.year).toBe(1999)
      expect(t.album).toBe('Scanned Album')
      expect(t.edited).toEqual(['title', 'artists', 'year'])
    }
  })

  it('converges when two devices edit the same field', () => {
    const { a, b } = twoDevices()
    a.user.setEdit('t1', 'title', 'From A')
    b.user.setEdit('t1', 'title', 'From B')
    sync(a.doc, b.doc)
    const title = a.user.editsOf('t1').title
    expect(['From A', 'From B']).toContain(title)
    expect(b.user.editsOf('t1').title).toBe(title)
    expect(listTracks(a.catalog)[0]!.title).toBe(title)
    expect(listTracks(b.catalog)[0]!.title).toBe(title)
  })

  it('keeps overrides when a rescan rewrites the track record', () => {
    const { a, b } = twoDevices()
    b.user.setEdits('t1', { title: 'Mine', album: null, trackNo: null })
    sync(a.doc, b.doc)
    a.catalog.putFile('dev-a', '/music/t1.mp3', 't1', record('Retagged', { trackNo: 7, discNo: 2 }))
    sync(a.doc, b.doc)
    const t = listTracks(b.catalog)[0]!
    expect(t).toMatchObject({ title: 'Mine', album: null, trackNo: null, discNo: 2 })
    expect(t.edited).toEqual(['title', 'album', 'trackNo'])
  })

  it('resets one field or all of them, and the scanned values show again', () => {
    const { a } = twoDevices()
    a.user.setEdits('t1', { title: 'X', genres: ['Jazz'], compilation: true })
    a.user.resetEdit('t1', 'title')
    expect(findTrack(a.catalog, 't1')).toMatchObject({
      title: 'Original',
      genres: ['Jazz'],
      compilation: true,
    })
    a.user.resetEdits('t1')
    expect(findTrack(a.catalog, 't1')).toMatchObject({ title: 'Original', genres: [], edited: [] })
    expect(a.user.edits.size).toBe(0)
  })

  it('rejects values that do not fit a field, and writes none of a batch with a bad value', () => {
    const { a } = twoDevices()
    expect(() => a.user.setEdits('t1', { title: 'ok', year: -3 })).toThrow(InvalidUserDataError)
    expect(() => a.user.setEdit('t1', 'title', '  ')).toThrow(InvalidUserDataError)
    expect(() => a.user.setEdits('t1', { artists: [''] })).toThrow(InvalidUserDataError)
    expect(a.user.edits.size).toBe(0)
  })

  it('ignores malformed values written by another device', () => {
    const { a } = twoDevices()
    a.user.edits.set('t1\u001ftitle', '{not json')
    a.user.edits.set('t1\u001fyear', '"nineteen"')
    a.user.edits.set('t1\u001fcodec', '"flac"')
    a.user.edits.set('t1\u001falbum', '"Good"')
    expect(listTracks(a.catalog)[0]).toMatchObject({
      title: 'Original',
      year: 2001,
      codec: 'mp3',
      album: 'Good',
    })
    expect(a.user.editIndex()).toEqual(new Map([['t1', { album: 'Good' }]]))
  })

  it('does not write a value that is already there (no churn)', () => {
    const { a } = twoDevices()
    a.user.setEdit('t1', 'title', 'Same')
    a.user.setRating('t1', 4)
    a.user.setFavourite('t1', true, 10)
    let updates = 0
    a.doc.on('update', () => updates++)
    a.user.setEdit('t1', 'title', 'Same')
    a.user.setRating('t1', 4)
    a.user.setFavourite('t1', true, 20)
    a.user.resetEdit('t1', 'album')
    expect(updates).toBe(0)
    expect(a.user.favouritedAt('t1')).toBe(10)
  })
})

describe('ratings and favourites', () => {
  it('converge on both devices, and 0 removes a rating', () => {
    const { a, b } = twoDevices()
    a.user.setRating('t1', 3)
    b.user.setRating('t1', 5)
    a.user.setFavourite('t1', true)
    sync(b.doc, a.doc)
    expect(a.user.rating('t1')).toBe(b.user.rating('t1'))
    expect([3, 5]).toContain(a.user.rating('t1'))
    expect(b.user.isFavourite('t1')).toBe(true)
    b.user.setRating('t1', 0)
    b.user.setFavourite('t1', false)
    sync(a.doc, b.doc)
    expect(findTrack(a.catalog, 't1')).toMatchObject({ rating: null, favourite: false })
    expect(() => a.user.setRating('t1', 6)).toThrow(InvalidUserDataError)
    expect(() => a.user.setRating('t1', 2.5)).toThrow(InvalidUserDataError)
  })
})

describe('play counts', () => {
  it('adds up plays made offline on two devices (a G-counter)', () => {
    const { a, b } = twoDevices()
    a.user.recordPlay('t1', 'dev-a')
    sync(a.doc, b.doc)
    a.user.recordPlay('t1', 'dev-a')
    a.user.recordPlay('t1', 'dev-a')
    b.user.recordPlay('t1', 'dev-b')
    b.user.recordPlay('t1', 'dev-b')
    b.user.recordPlay('t2', 'dev-b')
    sync(b.doc, a.doc)
    for (const d of [a, b]) {
      expect(d.user.playCount('t1')).toBe(5)
      expect(d.user.playCounts()).toEqual(
        new Map([
          ['t1', 5],
          ['t2', 1],
        ]),
      )
      expect(listTracks(d.catalog)[0]!.plays).toBe(5)
    }
    expect(a.user.playCount('t')).toBe(0)
  })
})

describe('playlists', () => {
  function withPlaylist() {
    const { a, b } = twoDevices()
    const id = a.user.createPlaylist('Mix', 100)
    a.user.addToPlaylist(id, ['x1', 'x2', 'x3'])
    sync(a.doc, b.doc)
    return { a, b, id }
  }

  it('creates playlists with random 16-hex ids and lists them', () => {
    const { a, b, id } = withPlaylist()
    expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect(a.user.createPlaylist('Other')).not.toBe(id)
    expect(b.user.playlist(id)).toEqual({
      id,
      name: 'Mix',
      createdAt: 100,
      updatedAt: expect.any(Number),
      trackIds: ['x1', 'x2', 'x3'],
    })
    expect(listPlaylists(a.catalog).map((p) => p.name)).toEqual(['Mix', 'Other'])
  })

  it('keeps both of two concurrent inserts', () => {
    const { a, b, id } = withPlaylist()
    a.user.addToPlaylist(id, ['fromA'], 1)
    b.user.addToPlaylist(id, ['fromB'], 1)
    b.user.addToPlaylist(id, ['endB'])
    sync(b.doc, a.doc)
    const items = a.user.playlist(id)!.trackIds
    expect(b.user.playlist(id)!.trackIds).toEqual(items)
    expect(items).toHaveLength(6)
    expect(items.slice(1, 3).sort()).toEqual(['fromA', 'fromB'])
    expect(items[0]).toBe('x1')
    expect(items.slice(3)).toEqual(['x2', 'x3', 'endB'])
  })

  it('converges after concurrent removes and moves', () => {
    const { a, b, id } = withPlaylist()
    a.user.movePlaylistItem(id, 2, 0) // x3 x1 x2
    b.user.removeFromPlaylist(id, [0]) // x2 x3
    b.user.addToPlaylist(id, ['x4']) // x2 x3 x4
    sync(a.doc, b.doc)
    const items = a.user.playlist(id)!.trackIds
    expect(b.user.playlist(id)!.trackIds).toEqual(items)
    expect(items).toEqual(['x3', 'x2', 'x4'])
  })

  it('removes every occurrence of a track, and items by position', () => {
    const { a, id } = withPlaylist()
    a.user.addToPlaylist(id, ['x1', 'x4'])
    expect(a.user.removeTracksFromPlaylist(id, ['x1'])).toBe(2)
    expect(a.user.playlist(id)!.trackIds).toEqual(['x2', 'x3', 'x4'])
    expect(a.user.removeFromPlaylist(id, [2, 0, 2])).toBe(2)
    expect(a.user.playlist(id)!.trackIds).toEqual(['x3'])
    expect(() => a.user.removeFromPlaylist(id, [1])).toThrow(PlaylistPositionError)
  })

  it('renames and deletes, and the other device sees it', () => {
    const { a, b, id } = withPlaylist()
    b.user.renamePlaylist(id, 'Better Mix')
    sync(b.doc, a.doc)
    expect(a.user.playlist(id)!.name).toBe('Better Mix')
    a.user.deletePlaylist(id)
    sync(a.doc, b.doc)
    expect(b.user.playlist(id)).toBeUndefined()
    expect(() => b.user.addToPlaylist(id, ['x9'])).toThrow(PlaylistNotFoundError)
  })

  it('counts the tracks the catalog does not hold', () => {
    const { a, id } = withPlaylist()
    a.user.addToPlaylist(id, ['t1'], 0)
    expect(listPlaylists(a.catalog)[0]).toMatchObject({ trackCount: 4, missingCount: 3, durationSec: 100 })
  })
})

it('converges among three devices whatever order the updates arrive in', () => {
  const a = device()
  const b = device()
  const c = device()
  a.catalog.putFile('dev-a', '/music/t1.mp3', 't1', record('One'))
  const id = a.user.createPlaylist('P')
  sync(a.doc, b.doc, c.doc)
  a.user.setEdit('t1', 'title', 'A')
  b.user.setEdit('t1', 'album', 'B')
  c.user.recordPlay('t1', 'c')
  b.user.recordPlay('t1', 'b')
  a.user.addToPlaylist(id, ['a'])
  c.user.addToPlaylist(id, ['c'])
  const updates = [a, b, c].map((d) => Y.encodeStateAsUpdate(d.doc))
  const x = new Y.Doc()
  const y = new Y.Doc()
  for (const u of updates) Y.applyUpdate(x, u)
  for (const u of [...updates].reverse()) Y.applyUpdate(y, u)
  for (const doc of [x, y]) {
    const user = new UserData(doc)
    expect(user.editsOf('t1')).toEqual({ title: 'A', album: 'B' })
    expect(user.playCount('t1')).toBe(2)
    expect(user.playlist(id)!.trackIds.sort()).toEqual(['a', 'c'])
  }
  expect(new UserData(x).playlist(id)!.trackIds).toEqual(new UserData(y).playlist(id)!.trackIds)
})
