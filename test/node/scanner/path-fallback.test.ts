import { expect, it } from 'vitest'
import { guessFromPath } from '../../../src/node/scanner/path-fallback.ts'

it.each([
  [
    '/m/Artist/Album/03 Title.mp3',
    { artist: 'Artist', album: 'Album', trackNo: 3, discNo: null, title: 'Title' },
  ],
  ['/m/Artist/Album/03 - Title.flac', { artist: 'Artist', album: 'Album', trackNo: 3, title: 'Title' }],
  [
    '/m/Artist/Album/2-05. Title.ogg',
    { artist: 'Artist', album: 'Album', trackNo: 5, discNo: 2, title: 'Title' },
  ],
  [
    '/m/Artist/Album/CD2/01 Title.mp3',
    { artist: 'Artist', album: 'Album', trackNo: 1, discNo: 2, title: 'Title' },
  ],
  ['/m/Artist - Song.mp3', { artist: 'Artist', album: null, trackNo: null, title: 'Song' }],
  ['/m/Loose Song.mp3', { artist: null, album: null, title: 'Loose Song' }],
  ['/m/Björk/Homogenic/01 Jo\u0301ga.mp3', { artist: 'Björk', title: 'Jóga' }],
])('%s', (file, expected) => {
  expect(guessFromPath(file, '/m')).toMatchObject(expected)
})
