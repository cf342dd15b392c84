import { MalformedFrameError, MessageTooLargeError } from './errors.ts'
import { type Frame, type FrameKind, frameKindName } from './frame.ts'
import { DEFAULT_CHUNK_BYTES, DEFAULT_MAX_MESSAGE_BYTES } from './limits.ts'

/** One whole message, after reassembly. */
export interface Message {
  readonly libraryId: string
  readonly kind: FrameKind
  readonly payload: Uint8Array
}

/**
 * Splits a message into frames of at most `chunkBytes` payload bytes each. The frames are views
 * into `payload`; encodeFrame copies them.
 */
export function splitMessage(message: Message, chunkBytes = DEFAULT_CHUNK_BYTES): Frame[] {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1)
    throw new RangeError(`invalid chunk size ${chunkBytes}`)
  const { libraryId, kind, payload } = message
  const chunkCount = Math.max(1, Math.ceil(payload.length / chunkBytes))
  const frames: Frame[] = []
  for (let chunkIndex = 0; chunkIndex < chunkCount; chunkIndex++) {
    const chunk = payload.subarray(chunkIndex * chunkBytes, (chunkIndex + 1) * chunkBytes)
    frames.push({ libraryId, kind, chunkIndex, chunkCount, messageLength: payload.length, payload: chunk })
  }
  return frames
}

export interface MessageAssemblerOptions {
  /** Refuse messages longer than this (default 512 MiB). */
  maxMessageBytes?: number
}

/**
 * Reassembles split messages from frames that arrive in order on one stream. A sender never
 * interleaves two split messages, so a frame out of sequence means a broken or hostile peer.
 */
export class MessageAssembler {
  readonly maxMessageBytes: number
  #pending: { first: Frame; parts: Uint8Array[]; received: number } | undefined

  constructor(options: MessageAssemblerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  }

  /** Bytes held for a message still being reassembled. */
  get pendingBytes(): number {
    return this.#pending?.received ?? 0
  }

  /** Takes the next frame; returns the message it completes, if any. */
  push(frame: Frame): Message | undefined {
    if (frame.messageLength > this.maxMessageBytes) {
      throw new MessageTooLargeError(
        `${frameKindName(frame.kind)} message of ${frame.messageLength} bytes exceeds ${this.maxMessageBytes}`,
      )
    }
    const pending = this.#pending
    if (pending === undefined) {
      if (frame.chunkIndex !== 0)
        throw new MalformedFrameError(`message starts at chunk ${frame.chunkIndex}, not 0`)
      if (frame.chunkCount === 1)
        return { libraryId: frame.libraryId, kind: frame.kind, payload: frame.payload }
      this.#pending = { first: frame, parts: [frame.payload], received: frame.payload.length }
      return undefined
    }
    const { first, parts } = pending
    if (
      frame.kind !== first.kind ||
      frame.libraryId !== first.libraryId ||
      frame.chunkCount !== first.chunkCount ||
      frame.messageLength !== first.messageLength ||
      frame.chunkIndex !== parts.length
    ) {
      throw new MalformedFrameError(
        `expected chunk ${parts.length}/${first.chunkCount} of a ${frameKindName(first.kind)} message, got chunk ${frame.chunkIndex}/${frame.chunkCount} of ${frameKindName(frame.kind)}`,
      )
    }
    pending.received += frame.payload.length
    if (pending.received > first.messageLength) {
      throw new MalformedFrameError(`chunks add up to more than the announced ${first.messageLength} bytes`)
    }
    parts.push(frame.payload)
    if (parts.length < first.chunkCount) return undefined
    this.#pending = undefined
    if (pending.received !== first.messageLength) {
      throw new MalformedFrameError(
        `chunks add up to ${pending.received} bytes, announced ${first.messageLength}`,
      )
    }
    return { libraryId: first.libraryId, kind: first.kind, payload: concat(parts, pending.received) }
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
