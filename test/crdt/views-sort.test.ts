import { expect, it } from 'vitest'
import { compareTracks, sortTracks, type TrackView } from '../../src/crdt/index.ts'

function view(
  i: number,
  artist: string | null,
  album: string | null,
  disc: number | null,
  no: number | null,
  title: string,
): TrackView {
  return {
    id: `id-${String(i).padStart(4, '0')}`,
    albumArtist: artist,
    artists: artist === null ? ['Fallback Artist'] : [artist],
    album,
    discNo: disc,
    trackNo: no,
    title,
  } as unknown as TrackView
}

it('sorts tracks exactly as compareTracks does, with case, accents, numbers and ties', () => {
  const artists = ['ABBA', 'abba', 'Ábba', 'Beatles', 'beatles', 'Track 2', 'Track 10', null, '']
  const albums = ['Gold', 'gold', 'Arrival', 'Album 9', 'Album 10', null]
  const titles = ['Song', 'song', 'Sóng', 'Intro', 'Part 2', 'Part 10']
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  const tracks: TrackView[] = []
  for (let i = 0; i < 3000; i++) {
    tracks.push(
      view(
        i,
        artists[random(artists.length)]!,
        albums[random(albums.length)]!,
        random(3) === 0 ? null : random(3),
        random(4) === 0 ? null : random(12),
        titles[random(titles.length)]!,
      ),
    )
  }
  const expected = [...tracks].sort(compareTracks).map((t) => t.id)
  expect(sortTracks([...tracks].reverse()).map((t) => t.id)).toEqual(expected)
})
