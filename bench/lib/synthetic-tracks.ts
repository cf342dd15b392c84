/**
 * Synthetic but realistic catalog records for load tests: what a scan of a tagged collection writes
 * (52-char content IDs, titles, artists, albums, genres, durations, codec facts; MusicBrainz ids and
 * ReplayGain on half of the tracks), ~10 tracks per album and ~5 albums per artist. Deterministic.
 */
import { createHash } from 'node:crypto'
import { base32Encode } from '../../src/blobs/index.ts'
import type { TrackRecord } from '../../src/crdt/index.ts'

// biome-ignore format: a word list
const WORDS = [
  'Silver', 'Harbor', 'Velvet', 'Morning', 'Echo', 'Paper', 'River', 'Neon', 'Quiet', 'Summer', 'Glass',
  'Northern', 'Static', 'Golden', 'Hollow', 'Wild', 'Midnight', 'Electric', 'Broken', 'Lantern', 'Orchard',
  'Satellite', 'Winter', 'Ghost', 'Crimson', 'Distant', 'Radio', 'Marble', 'Copper', 'Sleeping',
]
const GENRES = [
  'Rock',
  'Pop',
  'Jazz',
  'Electronic',
  'Classical',
  'Hip-Hop',
  'Folk',
  'Ambient',
  'Metal',
  'Soul',
]

export interface SyntheticTrack {
  id: string
  record: TrackRecord
  path: string
}

/** A small fast PRNG (mulberry32), so that runs build the same catalog. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function words(rand: () => number, count: number): string {
  return Array.from({ length: count }, () => WORDS[Math.floor(rand() * WORDS.length)]!).join(' ')
}

function uuid(seed: string): string {
  const hex = createHash('sha1').update(seed).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

function contentId(i: number): string {
  return base32Encode(createHash('sha256').update(`synthetic track ${i}`).digest())
}

/** Track `i` of a synthetic collection; albums and artists are shared by neighbouring tracks. */
export function syntheticTrack(i: number, musicRoot = '/home/user/Music'): SyntheticTrack {
  const albumIndex = Math.floor(i / 10)
  const artistIndex = Math.floor(albumIndex / 5)
  const albumRand = random(albumIndex * 7919 + 1)
  const artistRand = random(artistIndex * 104729 + 3)
  const rand = random(i * 31 + 7)
  const artist = `${words(artistRand, 2)} ${artistIndex}`
  const album = `${words(albumRand, 1 + Math.floor(albumRand() * 3))} ${albumIndex}`
  const lossless = albumRand() < 0.2
  const trackNo = (i % 10) + 1
  const title = words(rand, 1 + Math.floor(rand() * 4))
  const durationSec = Math.round((120 + rand() * 300) * 1000) / 1000
  const bitrate = lossless ? 800_000 + Math.floor(rand() * 400_000) : 320_000
  const tagged = rand() < 0.5 // about half of a real collection carries MusicBrainz ids
  const ext = lossless ? 'flac' : 'mp3'
  const record: TrackRecord = {
    contentId: contentId(i),
    size: Math.round((durationSec * bitrate) / 8) + 40_000,
    mediaType: 'audio',
    title,
    artists: rand() < 0.1 ? [artist, `${words(rand, 2)} feat.`] : [artist],
    album,
    albumArtist: artist,
    trackNo,
    trackTotal: 10,
    discNo: 1,
    discTotal: 1,
    year: 1960 + Math.floor(albumRand() * 64),
    genres: [GENRES[Math.floor(albumRand() * GENRES.length)]!],
    compilation: false,
    durationSec,
    codec: lossless ? 'FLAC' : 'MPEG 1 Layer 3',
    container: lossless ? 'FLAC' : 'MPEG',
    mime: lossless ? 'audio/flac' : 'audio/mpeg',
    bitrate,
    sampleRate: 44_100,
    channels: 2,
    bitsPerSample: lossless ? 16 : null,
    lossless,
    width: null,
    height: null,
    musicbrainz: tagged
      ? {
          trackId: uuid(`t${i}`),
          recordingId: uuid(`r${i}`),
          albumId: uuid(`al${albumIndex}`),
          artistIds: [uuid(`ar${artistIndex}`)],
          albumArtistIds: [uuid(`ar${artistIndex}`)],
          releaseGroupId: uuid(`rg${albumIndex}`),
        }
      : {},
    replayGain: tagged
      ? { trackGainDb: round(-10 + rand() * 6, 2), trackPeak: round(0.9 + rand() * 0.1, 6) }
      : {},
    lyrics: null,
    cover: albumRand() < 0.8 ? contentId(-1 - albumIndex) : null,
    tagSource: 'tags',
    addedAt: 1_700_000_000_000 + i * 1000,
  }
  const path = `${musicRoot}/${artist}/${album}/${String(trackNo).padStart(2, '0')} ${title}.${ext}`
  return { id: record.contentId, record, path }
}
