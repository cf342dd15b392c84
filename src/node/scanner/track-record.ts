import type { TagSource, TrackRecord } from '../../crdt/index.ts'
import { guessFromPath } from './path-fallback.ts'
import type { TagFields } from './tags.ts'

/** Builds the catalog record of a file from its tags, filling gaps from its path. */
export function buildTrackRecord(input: {
  path: string
  root: string
  contentId: string
  size: number
  tags: TagFields
  cover: string | null
  addedAt: number
}): TrackRecord {
  const { tags } = input
  const guess = guessFromPath(input.path, input.root)
  const fromTags = [tags.title !== null, tags.artists.length > 0, tags.album !== null]
  const tagSource: TagSource = fromTags.every(Boolean) ? 'tags' : fromTags.some(Boolean) ? 'mixed' : 'path'
  return {
    contentId: input.contentId,
    size: input.size,
    mediaType: tags.mediaType,
    title: tags.title ?? guess.title,
    artists: tags.artists.length > 0 ? tags.artists : guess.artist === null ? [] : [guess.artist],
    album: tags.album ?? (tags.mediaType === 'audio' ? guess.album : null),
    albumArtist: tags.albumArtist,
    trackNo: tags.trackNo ?? guess.trackNo,
    trackTotal: tags.trackTotal,
    discNo: tags.discNo ?? guess.discNo,
    discTotal: tags.discTotal,
    year: tags.year,
    genres: tags.genres,
    compilation: tags.compilation,
    durationSec: tags.durationSec,
    codec: tags.codec,
    container: tags.container,
    mime: tags.mime,
    bitrate: tags.bitrate,
    sampleRate: tags.sampleRate,
    channels: tags.channels,
    bitsPerSample: tags.bitsPerSample,
    lossless: tags.lossless,
    width: tags.width,
    height: tags.height,
    musicbrainz: tags.musicbrainz,
    replayGain: tags.replayGain,
    lyrics: tags.lyrics,
    cover: input.cover,
    tagSource,
    addedAt: input.addedAt,
  }
}
