import type { TrackRecord } from '../../src/crdt/index.ts'

/** A scanned track's record for tests: what every test names, the rest empty (as for untagged audio). */
export function trackRecord(
  fields: Pick<TrackRecord, 'contentId' | 'size' | 'title' | 'addedAt'> & Partial<TrackRecord>,
): TrackRecord {
  return {
    mediaType: 'audio',
    artists: [],
    album: null,
    albumArtist: null,
    trackNo: null,
    trackTotal: null,
    discNo: null,
    discTotal: null,
    year: null,
    genres: [],
    compilation: false,
    durationSec: null,
    codec: null,
    container: null,
    mime: null,
    bitrate: null,
    sampleRate: null,
    channels: null,
    bitsPerSample: null,
    lossless: false,
    width: null,
    height: null,
    musicbrainz: {},
    replayGain: {},
    lyrics: null,
    cover: null,
    tagSource: 'tags',
    ...fields,
  }
}
