import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { MalformedFrameError } from './errors.ts'
import { MAX_FRAME_PAYLOAD_BYTES, MAX_LIBRARY_ID_LENGTH } from './limits.ts'

/**
 * A sync frame: the thin envelope around one y-protocols message (or one chunk of it).
 * A Yjs message does not say which document it belongs to, so every frame names its library.
 *
 * Encoding (lib0, version 1):
 *   varUint        version = 1
 *   varString      library id (≤ 256 UTF-16 units)
 *   varUint        kind (FrameKind)
 *   varUint        chunk index   (0-based, < chunk count)
 *   varUint        chunk count   (≥ 1; 1 = the message fits in one frame)
 *   varUint        message length (bytes of the whole reassembled payload)
 *   varUint8Array  payload (this chunk's bytes)
 */

export const FRAME_VERSION = 1

/**
 * What a frame's (reassembled) payload is. Kinds 0-2 carry a y-protocols sync message, with the
 * same numbers as y-protocols' message types; 3 carries a y-protocols awareness update.
 */
export const FrameKind = {
  SyncStep1: 0,
  SyncStep2: 1,
  Update: 2,
  Awareness: 3,
  /** Empty: "I applied your SyncStep2". y-protocols suggests it for peer-to-peer use. */
  SyncDone: 4,
  /** Empty: keeps an idle stream from timing out. */
  Keepalive: 5,
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

const KIND_NAMES = Object.fromEntries(
  Object.entries(FrameKind).map(([name, kind]) => [kind, name]),
) as Record<FrameKind, string>

export function frameKindName(kind: FrameKind): string {
  return KIND_NAMES[kind]
}

export function isFrameKind(value: number): value is FrameKind {
  return Object.hasOwn(KIND_NAMES, value)
}

export interface Frame {
  readonly libraryId: string
  readonly kind: FrameKind
  readonly chunkIndex: number
  readonly chunkCount: number
  /** Length of the whole message this frame is a chunk of. */
  readonly messageLength: number
  readonly payload: Uint8Array
}

export function encodeFrame(frame: Frame): Uint8Array {
  checkFrame(frame)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, FRAME_VERSION)
  encoding.writeVarString(encoder, frame.libraryId)
  encoding.writeVarUint(encoder, frame.kind)
  encoding.writeVarUint(encoder, frame.chunkIndex)
  encoding.writeVarUint(encoder, frame.chunkCount)
  encoding.writeVarUint(encoder, frame.messageLength)
  encoding.writeVarUint8Array(encoder, frame.payload)
  return encoding.toUint8Array(encoder)
}

export interface DecodeFrameOptions {
  /** Refuse a frame whose payload is larger (default MAX_FRAME_PAYLOAD_BYTES). */
  maxPayloadBytes?: number
}

/**
 * Decodes one frame. A hostile peer may send anything, so every field is checked and any
 * problem, including lib0's own decoding errors, becomes a MalformedFrameError.
 * The payload is a view into `bytes` (no copy).
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): Frame {
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_FRAME_PAYLOAD_BYTES
  const decoder = decoding.createDecoder(bytes)
  try {
    const version = decoding.readVarUint(decoder)
    if (version !== FRAME_VERSION) throw new MalformedFrameError(`unsupported frame version ${version}`)
    const libraryIdBytes = readBoundedBytes(decoder, MAX_LIBRARY_ID_LENGTH * 3, 'library id')
    const libraryId = new TextDecoder('utf-8', { fatal: true }).decode(libraryIdBytes)
    const kind = decoding.readVarUint(decoder)
    if (!isFrameKind(kind)) throw new MalformedFrameError(`unknown frame kind ${kind}`)
    const chunkIndex = decoding.readVarUint(decoder)
    const chunkCount = decoding.readVarUint(decoder)
    const messageLength = decoding.readVarUint(decoder)
    const payload = readBoundedBytes(decoder, maxPayloadBytes, 'payload')
    if (decoding.hasContent(decoder)) throw new MalformedFrameError('trailing bytes after the payload')
    const frame: Frame = { libraryId, kind, chunkIndex, chunkCount, messageLength, payload }
    checkFrame(frame)
    return frame
  } catch (err) {
    if (err instanceof MalformedFrameError) throw err
    // lib0 throws plain Errors on truncated input; TextDecoder a TypeError on bad UTF-8.
    throw new MalformedFrameError(`cannot decode frame: ${(err as Error).message}`, { cause: err })
  }
}

function checkFrame(frame: Frame): void {
  const { libraryId, chunkIndex, chunkCount, messageLength, payload } = frame
  if (libraryId.length === 0 || libraryId.length > MAX_LIBRARY_ID_LENGTH) {
    throw new MalformedFrameError(`library id must be 1-${MAX_LIBRARY_ID_LENGTH} characters`)
  }
  if (!isFrameKind(frame.kind)) throw new MalformedFrameError(`unknown frame kind ${frame.kind}`)
  if (chunkCount < 1) throw new MalformedFrameError('chunk count is 0')
  if (chunkIndex >= chunkCount)
    throw new MalformedFrameError(`chunk index ${chunkIndex} ≥ chunk count ${chunkCount}`)
  if (payload.length > messageLength) {
    throw new MalformedFrameError(
      `chunk of ${payload.length} bytes exceeds its message length ${messageLength}`,
    )
  }
  if (chunkCount === 1 && payload.length !== messageLength) {
    throw new MalformedFrameError(`single-frame message of ${payload.length} bytes claims ${messageLength}`)
  }
  // Empty chunks would let a peer announce a huge chunk count and never make progress.
  if (chunkCount > 1 && payload.length === 0) throw new MalformedFrameError('empty chunk in a split message')
  if (chunkCount > messageLength && chunkCount > 1) {
    throw new MalformedFrameError(`${chunkCount} chunks for a ${messageLength}-byte message`)
  }
}

/** lib0's readVarUint8Array silently returns a short view when the length overruns the input: check it. */
function readBoundedBytes(decoder: decoding.Decoder, max: number, what: string): Uint8Array {
  const length = decoding.readVarUint(decoder)
  const remaining = decoder.arr.length - decoder.pos
  if (length > remaining)
    throw new MalformedFrameError(`${what} length ${length} overruns the frame (${remaining} left)`)
  if (length > max) throw new MalformedFrameError(`${what} of ${length} bytes exceeds ${max}`)
  return decoding.readUint8Array(decoder, length)
}
