import { isContentId } from './content-id.ts'

/**
 * The messages of the blob protocol (`/cloudless/blob/1.0.0`) as bytes. Each message travels as
 * one length-prefixed frame (unsigned varint length, then the body); these functions encode and
 * decode the body. src/node/protocols/blob/PROTOCOL.md describes the flow.
 *
 * Body layouts, integers big-endian:
 *   manifest request   u8 0x01, content ID (52 ASCII bytes)
 *   blocks request     u8 0x02, content ID (52 ASCII bytes), u32 first block index, u32 block count
 *   manifest           u8 0x81, the encoded manifest (CLMF, see content-id.ts)
 *   block              u8 0x82, u32 block index, the block's bytes
 *   end                u8 0x83 (all blocks of a blocks request were sent)
 *   error              u8 0x84, u8 error code, UTF-8 message
 *
 * Decoding is strict, since a hostile peer may send anything: every length is bounded, a body must
 * be consumed exactly, and any violation throws MalformedBlobMessageError (or a subclass).
 */

/** A content ID on the wire: its base32 text, as ASCII. */
export const CONTENT_ID_BYTES = 52
/** Most blocks one blocks request may ask for (256 MiB at 256 KiB blocks). */
export const MAX_BLOCKS_PER_REQUEST = 1024
/** Largest block a block message may carry: blobs with bigger blocks cannot be served. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** Largest encoded manifest: 2^19 block hashes, a 128 GiB file at 256 KiB blocks. */
export const MAX_MANIFEST_BYTES = 17 + 32 * 2 ** 19
/** Longest error message, in UTF-8 bytes. Longer messages are cut when encoded. */
export const MAX_ERROR_MESSAGE_BYTES = 1024
/** Bytes before the block's own bytes in a block message: kind and index. */
export const BLOCK_MESSAGE_HEADER_BYTES = 5
/** Longest request body. */
export const MAX_REQUEST_BYTES = 1 + CONTENT_ID_BYTES + 8
/** Longest response body. */
export const MAX_RESPONSE_BYTES = Math.max(
  1 + MAX_MANIFEST_BYTES,
  BLOCK_MESSAGE_HEADER_BYTES + MAX_BLOCK_BYTES,
  2 + MAX_ERROR_MESSAGE_BYTES,
)

export const MessageKind = {
  ManifestRequest: 0x01,
  BlocksRequest: 0x02,
  Manifest: 0x81,
  Block: 0x82,
  End: 0x83,
  Error: 0x84,
} as const

/** Error codes, with their byte on the wire. */
export const BlobErrorCode = {
  /** The peer holds no blob with this content ID. */
  NotFound: 'not-found',
  /** The owner's file changed since it was hashed: this content ID is gone from it. */
  Changed: 'changed',
  /** Too many transfers at once; try again later or ask another device. */
  Busy: 'busy',
  /** The request was malformed or out of range. */
  BadRequest: 'bad-request',
  /** The peer failed to read the blob. */
  Internal: 'internal',
} as const
export type BlobErrorCode = (typeof BlobErrorCode)[keyof typeof BlobErrorCode]

const ERROR_CODE_BYTES: Record<BlobErrorCode, number> = {
  'not-found': 1,
  changed: 2,
  busy: 3,
  'bad-request': 4,
  internal: 5,
}
const ERROR_CODES_BY_BYTE = new Map<number, BlobErrorCode>(
  Object.entries(ERROR_CODE_BYTES).map(([code, byte]) => [byte, code as BlobErrorCode]),
)

export interface ManifestRequest {
  kind: 'manifest'
  contentId: string
}

export interface BlocksRequest {
  kind: 'blocks'
  contentId: string
  /** Index of the first block wanted. */
  first: number
  /** How many consecutive blocks, 1 to MAX_BLOCKS_PER_REQUEST. */
  count: number
}

export type BlobRequest = ManifestRequest | BlocksRequest

export interface ManifestResponse {
  kind: 'manifest'
  /** The encoded manifest, unverified: check it with verifyManifest(contentId, bytes). */
  manifest: Uint8Array
}

export interface BlockResponse {
  kind: 'block'
  index: number
  /** The block's bytes, unverified: check them with verifyBlock(manifest, index, bytes). */
  bytes: Uint8Array
}

export interface EndResponse {
  kind: 'end'
}

export interface ErrorResponse {
  kind: 'error'
  code: BlobErrorCode
  message: string
}

export type BlobResponse = ManifestResponse | BlockResponse | EndResponse | ErrorResponse

/** The bytes are not a valid message of the blob protocol; the message says why. */
export class MalformedBlobMessageError extends Error {
  override name = 'MalformedBlobMessageError'
}

/** The message starts with a kind byte this version does not know (or a response where a request belongs). */
export class UnknownBlobMessageKindError extends MalformedBlobMessageError {
  override name = 'UnknownBlobMessageKindError'
}

/** An error message carries a code this version does not know. */
export class UnknownBlobErrorCodeError extends MalformedBlobMessageError {
  override name = 'UnknownBlobErrorCodeError'
}

const UINT32_LIMIT = 2 ** 32
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function encodeRequest(request: BlobRequest): Uint8Array {
  if (request.kind === 'manifest') {
    const out = new Uint8Array(1 + CONTENT_ID_BYTES)
    out[0] = MessageKind.ManifestRequest
    writeContentId(out, 1, request.contentId)
    return out
  }
  const { first, count } = request
  if (!isUint32(first)) throw new RangeError(`first block index ${first} is not a u32`)
  if (!Number.isInteger(count) || count < 1 || count > MAX_BLOCKS_PER_REQUEST) {
    throw new RangeError(`block count ${count} is not 1-${MAX_BLOCKS_PER_REQUEST}`)
  }
  if (first + count > UINT32_LIMIT) throw new RangeError('the blocks requested run past index 2^32 - 1')
  const out = new Uint8Array(MAX_REQUEST_BYTES)
  const view = new DataView(out.buffer)
  out[0] = MessageKind.BlocksRequest
  writeContentId(out, 1, request.contentId)
  view.setUint32(1 + CONTENT_ID_BYTES, first)
  view.setUint32(5 + CONTENT_ID_BYTES, count)
  return out
}

export function decodeRequest(bytes: Uint8Array): BlobRequest {
  if (bytes.length === 0) throw new MalformedBlobMessageError('empty request')
  const kind = bytes[0]
  if (kind === MessageKind.ManifestRequest) {
    expectLength(bytes, 1 + CONTENT_ID_BYTES, 'manifest request')
    return { kind: 'manifest', contentId: readContentId(bytes, 1) }
  }
  if (kind === MessageKind.BlocksRequest) {
    expectLength(bytes, MAX_REQUEST_BYTES, 'blocks request')
    const contentId = readContentId(bytes, 1)
    const view = viewOf(bytes)
    const first = view.getUint32(1 + CONTENT_ID_BYTES)
    const count = view.getUint32(5 + CONTENT_ID_BYTES)
    if (count < 1 || count > MAX_BLOCKS_PER_REQUEST) {
      throw new MalformedBlobMessageError(`block count ${count} is not 1-${MAX_BLOCKS_PER_REQUEST}`)
    }
    if (first + count > UINT32_LIMIT) {
      throw new MalformedBlobMessageError('the blocks requested run past index 2^32 - 1')
    }
    return { kind: 'blocks', contentId, first, count }
  }
  throw new UnknownBlobMessageKindError(`unknown request kind 0x${hex(kind)}`)
}

export function encodeResponse(response: BlobResponse): Uint8Array {
  switch (response.kind) {
    case 'manifest': {
      if (response.manifest.length > MAX_MANIFEST_BYTES) {
        throw new RangeError(`manifest of ${response.manifest.length} bytes exceeds ${MAX_MANIFEST_BYTES}`)
      }
      const out = new Uint8Array(1 + response.manifest.length)
      out[0] = MessageKind.Manifest
      out.set(response.manifest, 1)
      return out
    }
    case 'block': {
      checkBlockLength(response.bytes.length)
      const out = new Uint8Array(BLOCK_MESSAGE_HEADER_BYTES + response.bytes.length)
      out.set(encodeBlockHeader(response.index), 0)
      out.set(response.bytes, BLOCK_MESSAGE_HEADER_BYTES)
      return out
    }
    case 'end':
      return Uint8Array.of(MessageKind.End)
    case 'error': {
      const byte = ERROR_CODE_BYTES[response.code]
      if (byte === undefined) throw new RangeError(`unknown error code ${response.code}`)
      const text = utf8Encoder.encode(truncateUtf8(response.message, MAX_ERROR_MESSAGE_BYTES))
      const out = new Uint8Array(2 + text.length)
      out[0] = MessageKind.Error
      out[1] = byte
      out.set(text, 2)
      return out
    }
  }
}

/**
 * The first BLOCK_MESSAGE_HEADER_BYTES of a block message. A sender can write this header and the
 * block's bytes one after the other instead of copying the block into one buffer; the length
 * prefix then counts both.
 */
export function encodeBlockHeader(index: number): Uint8Array {
  if (!isUint32(index)) throw new RangeError(`block index ${index} is not a u32`)
  const out = new Uint8Array(BLOCK_MESSAGE_HEADER_BYTES)
  out[0] = MessageKind.Block
  new DataView(out.buffer).setUint32(1, index)
  return out
}

/** Throws RangeError unless a block of `length` bytes fits into a block message. */
function checkBlockLength(length: number): void {
  if (length < 1 || length > MAX_BLOCK_BYTES) {
    throw new RangeError(`a block of ${length} bytes is not 1-${MAX_BLOCK_BYTES} bytes`)
  }
}

/**
 * Decodes a response. The manifest and block bytes returned are views into `bytes`, not copies.
 */
export function decodeResponse(bytes: Uint8Array): BlobResponse {
  if (bytes.length === 0) throw new MalformedBlobMessageError('empty response')
  const kind = bytes[0]
  switch (kind) {
    case MessageKind.Manifest: {
      if (bytes.length - 1 > MAX_MANIFEST_BYTES) {
        throw new MalformedBlobMessageError(
          `manifest of ${bytes.length - 1} bytes exceeds ${MAX_MANIFEST_BYTES}`,
        )
      }
      return { kind: 'manifest', manifest: bytes.subarray(1) }
    }
    case MessageKind.Block: {
      const length = bytes.length - BLOCK_MESSAGE_HEADER_BYTES
      if (length < 1) throw new MalformedBlobMessageError('block message without block bytes')
      if (length > MAX_BLOCK_BYTES) {
        throw new MalformedBlobMessageError(`block of ${length} bytes exceeds ${MAX_BLOCK_BYTES}`)
      }
      const index = viewOf(bytes).getUint32(1)
      return { kind: 'block', index, bytes: bytes.subarray(BLOCK_MESSAGE_HEADER_BYTES) }
    }
    case MessageKind.End:
      expectLength(bytes, 1, 'end message')
      return { kind: 'end' }
    case MessageKind.Error: {
      if (bytes.length < 2) throw new MalformedBlobMessageError('error message without a code')
      if (bytes.length - 2 > MAX_ERROR_MESSAGE_BYTES) {
        throw new MalformedBlobMessageError(`error text exceeds ${MAX_ERROR_MESSAGE_BYTES} bytes`)
      }
      const code = ERROR_CODES_BY_BYTE.get(bytes[1]!)
      if (code === undefined) throw new UnknownBlobErrorCodeError(`unknown error code ${bytes[1]}`)
      let message: string
      try {
        message = utf8Decoder.decode(bytes.subarray(2))
      } catch {
        throw new MalformedBlobMessageError('error text is not valid UTF-8')
      }
      return { kind: 'error', code, message }
    }
    default:
      throw new UnknownBlobMessageKindError(`unknown response kind 0x${hex(kind)}`)
  }
}

function writeContentId(out: Uint8Array, offset: number, contentId: string): void {
  if (!isContentId(contentId)) throw new RangeError(`not a content ID: ${contentId.slice(0, 64)}`)
  for (let i = 0; i < CONTENT_ID_BYTES; i++) out[offset + i] = contentId.charCodeAt(i)
}

/** Content IDs are ASCII; one native decode (a spread of the bytes went through an iterator, per byte). */
const ASCII = new TextDecoder('latin1')

function readContentId(bytes: Uint8Array, offset: number): string {
  const contentId = ASCII.decode(bytes.subarray(offset, offset + CONTENT_ID_BYTES))
  if (!isContentId(contentId)) throw new MalformedBlobMessageError('the content ID is not valid')
  return contentId
}

function expectLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new MalformedBlobMessageError(`${what} of ${bytes.length} bytes, expected ${length}`)
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < UINT32_LIMIT
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0')
}

/** `text` cut to at most `maxBytes` of UTF-8, never inside a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  // Each UTF-16 unit encodes to at most 3 bytes: short strings need no measuring.
  if (text.length * 3 <= maxBytes) return text
  let bytes = 0
  let end = 0
  for (const char of text) {
    const size = utf8Encoder.encode(char).length
    if (bytes + size > maxBytes) break
    bytes += size
    end += char.length
  }
  return text.slice(0, end)
}
