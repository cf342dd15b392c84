/**
 * Recognises media by content: a file named `mystery` that holds an MP3 is music, and a text file
 * named `.m4a` is not. Looks at the first bytes only; the tag parser then reads the whole file.
 */

export type SniffedKind = 'media' | 'image' | 'other'

export interface Sniffed {
  kind: SniffedKind
  /** A short name of what the bytes look like, for messages: 'mp3', 'flac', 'jpeg', 'text', ... */
  format: string
}

export const SNIFF_BYTES = 4096

const MEDIA_EXTENSIONS = new Set([
  '.mp3', '.mp2', '.m4a', '.m4b', '.m4p', '.mp4', '.m4v', '.mov', '.aac', '.flac', '.ogg', '.oga', '.opus',
  '.ogv', '.wav', '.wave', '.aif', '.aiff', '.aifc', '.wv', '.wma', '.wmv', '.asf', '.webm', '.mkv', '.mka',
  '.ape', '.mpc', '.dsf', '.dff', '.avi', '.3gp', '.spx', '.tta',
]) // biome-ignore format: a list

export function hasMediaExtension(ext: string): boolean {
  return MEDIA_EXTENSIONS.has(ext.toLowerCase())
}

function ascii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (bytes.length < offset + text.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false
  return true
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b)
}

const ASF_GUID = [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]
const EBML = [0x1a, 0x45, 0xdf, 0xa3]

export function sniff(bytes: Uint8Array): Sniffed {
  if (bytes.length === 0) return { kind: 'other', format: 'empty' }
  if (ascii(bytes, 0, 'ID3')) return { kind: 'media', format: 'id3' }
  if (ascii(bytes, 0, 'fLaC')) return { kind: 'media', format: 'flac' }
  if (ascii(bytes, 0, 'OggS')) return { kind: 'media', format: 'ogg' }
  if (ascii(bytes, 0, 'RIFF') && (ascii(bytes, 8, 'WAVE') || ascii(bytes, 8, 'AVI ')))
    return { kind: 'media', format: 'riff' }
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return { kind: 'image', format: 'webp' }
  if (ascii(bytes, 0, 'FORM') && (ascii(bytes, 8, 'AIFF') || ascii(bytes, 8, 'AIFC')))
    return { kind: 'media', format: 'aiff' }
  if (ascii(bytes, 4, 'ftyp')) return { kind: 'media', format: 'mp4' }
  if (startsWith(bytes, EBML)) return { kind: 'media', format: 'matroska' }
  if (ascii(bytes, 0, 'wvpk')) return { kind: 'media', format: 'wavpack' }
  if (startsWith(bytes, ASF_GUID)) return { kind: 'media', format: 'asf' }
  if (ascii(bytes, 0, 'MAC ')) return { kind: 'media', format: 'ape' }
  if (ascii(bytes, 0, 'MPCK') || ascii(bytes, 0, 'MP+')) return { kind: 'media', format: 'musepack' }
  if (ascii(bytes, 0, 'DSD ') || ascii(bytes, 0, 'FRM8')) return { kind: 'media', format: 'dsd' }
  if (ascii(bytes, 0, 'TTA1')) return { kind: 'media', format: 'tta' }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'image', format: 'jpeg' }
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47])) return { kind: 'image', format: 'png' }
  if (ascii(bytes, 0, 'GIF8')) return { kind: 'image', format: 'gif' }
  if (startsWith(bytes, [0x00, 0x05, 0x16, 0x07]))
    return { kind: 'other', format: 'AppleDouble resource fork' }
  if (looksLikeMpegAudio(bytes)) return { kind: 'media', format: 'mpeg' }
  if (looksLikeText(bytes)) return { kind: 'other', format: 'text' }
  return { kind: 'other', format: 'unknown binary data' }
}

/**
 * Untagged MP3 and ADTS AAC start with a frame header: 11 sync bits set. Random bytes match that
 * often, so require a second frame header where the first frame's length says it should be.
 */
function looksLikeMpegAudio(bytes: Uint8Array): boolean {
  for (let i = 0; i + 4 < Math.min(bytes.length, 2048); i++) {
    if (bytes[i] !== 0xff || (bytes[i + 1]! & 0xe0) !== 0xe0) continue
    const length = mpegFrameLength(bytes, i)
    if (length === null) continue
    const next = i + length
    if (next + 1 < bytes.length && bytes[next] === 0xff && (bytes[next + 1]! & 0xe0) === 0xe0) return true
  }
  return false
}

const BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
const BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
const SAMPLE_RATES = [
  [11025, 12000, 8000], // MPEG 2.5
  null,
  [22050, 24000, 16000], // MPEG 2
  [44100, 48000, 32000], // MPEG 1
]

function mpegFrameLength(bytes: Uint8Array, i: number): number | null {
  const b1 = bytes[i + 1]!
  const b2 = bytes[i + 2]!
  const version = (b1 >> 3) & 3
  const layer = (b1 >> 1) & 3
  if (layer === 0) {
    // ADTS AAC: frame length is 13 bits across bytes 3..5.
    if (version !== 0 && version !== 2) return null
    const length = ((bytes[i + 3]! & 3) << 11) | (bytes[i + 4]! << 3) | ((bytes[i + 5] ?? 0) >> 5)
    return length > 7 ? length : null
  }
  if (layer !== 1) return null // only layer III is common enough to matter here
  const rates = SAMPLE_RATES[version]
  const bitrateIndex = b2 >> 4
  const rateIndex = (b2 >> 2) & 3
  if (rates == null || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null
  const bitrate = (version === 3 ? BITRATES_V1_L3 : BITRATES_V2_L3)[bitrateIndex]! * 1000
  const sampleRate = rates[rateIndex]!
  const padding = (b2 >> 1) & 1
  const samples = version === 3 ? 144 : 72
  return Math.floor((samples * bitrate) / sampleRate) + padding
}

function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 512)
  let printable = 0
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!
    if (b === 0) return false
    if (b === 9 || b === 10 || b === 13 || b >= 32) printable++
  }
  return printable / n > 0.95
}
