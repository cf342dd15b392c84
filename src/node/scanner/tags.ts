import type { IAudioMetadata } from 'music-metadata'
import type { MediaType, TrackRecord } from '../../crdt/index.ts'

/** The descriptive part of a track as read from its tags; null where the tags say nothing. */
export type TagFields = Omit<
  TrackRecord,
  'contentId' | 'size' | 'title' | 'cover' | 'tagSource' | 'addedAt'
> & {
  title: string | null
}

export function tagFields(meta: IAudioMetadata): TagFields {
  const { common, format } = meta
  const video = format.trackInfo?.find((t) => t.video !== undefined)?.video
  const mediaType: MediaType = format.hasVideo || video !== undefined ? 'video' : 'audio'
  const artists = uniqueStrings(common.artists?.length ? common.artists : splitArtist(common.artist))
  return {
    mediaType,
    title: text(common.title),
    artists,
    album: text(common.album),
    albumArtist: text(common.albumartist),
    trackNo: positive(common.track.no),
    trackTotal: positive(common.track.of),
    discNo: positive(common.disk.no),
    discTotal: positive(common.disk.of),
    year: positive(common.year) ?? yearOf(common.date) ?? yearOf(common.originaldate),
    genres: uniqueStrings((common.genre ?? []).flatMap(splitGenre)),
    compilation: common.compilation === true,
    durationSec: finite(format.duration),
    codec: text(format.codec),
    container: text(format.container),
    mime: mimeOf(format.container, mediaType),
    bitrate: finite(format.bitrate) === null ? null : Math.round(format.bitrate!),
    sampleRate: finite(format.sampleRate),
    channels: finite(format.numberOfChannels),
    bitsPerSample: finite(format.bitsPerSample),
    lossless: format.lossless === true,
    width: video?.pixelWidth ?? null,
    height: video?.pixelHeight ?? null,
    musicbrainz: dropUndefined({
      trackId: text(common.musicbrainz_trackid) ?? undefined,
      recordingId: text(common.musicbrainz_recordingid) ?? undefined,
      albumId: text(common.musicbrainz_albumid) ?? undefined,
      artistIds: common.musicbrainz_artistid?.length ? common.musicbrainz_artistid : undefined,
      albumArtistIds: common.musicbrainz_albumartistid?.length ? common.musicbrainz_albumartistid : undefined,
      releaseGroupId: text(common.musicbrainz_releasegroupid) ?? undefined,
    }),
    replayGain: dropUndefined({
      trackGainDb: finite(common.replaygain_track_gain?.dB) ?? undefined,
      trackPeak: finite(common.replaygain_track_peak?.ratio) ?? undefined,
      albumGainDb: finite(common.replaygain_album_gain?.dB) ?? undefined,
      albumPeak: finite(common.replaygain_album_peak?.ratio) ?? undefined,
    }),
    lyrics: lyricsOf(meta),
  }
}

function lyricsOf(meta: IAudioMetadata): string | null {
  for (const lyric of meta.common.lyrics ?? []) {
    const value = text(lyric.text) ?? text(lyric.syncText?.map((line) => line.text).join('\n'))
    if (value !== null) return value
  }
  return null
}

function text(value: string | undefined | null): string | null {
  if (typeof value !== 'string') return null
  // Some taggers pad with NULs; all-whitespace means "no value".
  const trimmed = value.replace(/\0+$/g, '').trim()
  return trimmed === '' ? null : trimmed.normalize('NFC')
}

function splitArtist(artist: string | undefined): string[] {
  const value = text(artist)
  return value === null ? [] : [value]
}

function splitGenre(genre: string): string[] {
  // ID3v2.3 and some taggers join several genres with ';' or '/' in one frame.
  return genre.split(/\s*[;/]\s*/)
}

function uniqueStrings(values: Array<string | undefined>): string[] {
  const out: string[] = []
  for (const value of values) {
    const t = text(value)
    if (t !== null && !out.includes(t)) out.push(t)
  }
  return out
}

function positive(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null
}

function finite(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function yearOf(date: string | undefined): number | null {
  const match = date === undefined ? null : /^(\d{4})/.exec(date)
  return match === null ? null : Number(match[1])
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

/** The MIME type a player needs in Content-Type, from the container music-metadata reports. */
export function mimeOf(container: string | undefined, mediaType: MediaType): string | null {
  const c = (container ?? '').toLowerCase()
  if (c.includes('mpeg')) return 'audio/mpeg'
  if (c === 'flac') return 'audio/flac'
  if (c.startsWith('ogg')) return mediaType === 'video' ? 'video/ogg' : 'audio/ogg'
  if (c.includes('webm')) return mediaType === 'video' ? 'video/webm' : 'audio/webm'
  if (c.includes('ebml') || c.includes('matroska'))
    return mediaType === 'video' ? 'video/x-matroska' : 'audio/x-matroska'
  if (c.includes('m4a') || c.includes('mp4') || c.includes('m4b') || c.includes('isom') || c.includes('qt'))
    return mediaType === 'video' ? 'video/mp4' : 'audio/mp4'
  if (c.includes('wave') || c === 'riff') return 'audio/wav'
  if (c.includes('aiff')) return 'audio/aiff'
  if (c.includes('wavpack')) return 'audio/x-wavpack'
  if (c.includes('asf')) return mediaType === 'video' ? 'video/x-ms-asf' : 'audio/x-ms-wma'
  if (c.includes('adts') || c === 'aac') return 'audio/aac'
  if (c.includes('monkey')) return 'audio/x-ape'
  return null
}
