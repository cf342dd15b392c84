import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { type Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import { readSyncMessage, writeSyncStep1, writeUpdate } from 'y-protocols/sync'
import type * as Y from 'yjs'
import { type Message, MessageAssembler, splitMessage } from './chunking.ts'
import { LibraryMismatchError, MalformedFrameError, UpdateRejectedError } from './errors.ts'
import { decodeFrame, encodeFrame, FrameKind, frameKindName } from './frame.ts'
import { DEFAULT_CHUNK_BYTES, DEFAULT_MAX_MESSAGE_BYTES, MAX_FRAME_PAYLOAD_BYTES } from './limits.ts'

export interface SyncSessionInit {
  doc: Y.Doc
  libraryId: string
  /** Transaction origin for everything applied from this peer (the service uses the peer id). */
  origin: unknown
  /** Share awareness states too; without it, awareness frames are ignored. */
  awareness?: Awareness
  /** Payload bytes per frame when splitting (default 1 MiB). */
  chunkBytes?: number
  /** Largest reassembled message accepted (default 512 MiB). */
  maxMessageBytes?: number
  /** Largest payload accepted in one frame (default 2 MiB). */
  maxFramePayloadBytes?: number
}

export interface ReceiveResult {
  /** Encoded frames to send back, in order. */
  readonly replies: Uint8Array[]
  /** True once, on the frame that completes the initial exchange. */
  readonly becameSynced: boolean
}

const NOTHING: ReceiveResult = Object.freeze({ replies: [], becameSynced: false })

/**
 * One peer's side of the sync protocol over one ordered, reliable channel, as a pure state
 * machine: it turns incoming encoded frames into replies and doc changes, and local changes into
 * frames. It does no I/O.
 *
 * Exchange: each side opens with SyncStep1 (its state vector); each answers a SyncStep1 with a
 * SyncStep2 (what the other lacks) and a SyncStep2 with SyncDone. The session is synced when it
 * has applied the peer's SyncStep2 and the peer has confirmed ours with SyncDone; from then on
 * (and before, harmlessly) both sides send each local change as an Update.
 */
export class SyncSession {
  readonly doc: Y.Doc
  readonly libraryId: string
  readonly origin: unknown
  readonly awareness: Awareness | undefined
  readonly #chunkBytes: number
  readonly #maxFramePayloadBytes: number
  readonly #assembler: MessageAssembler
  #appliedPeerState = false
  #peerAppliedOurState = false

  constructor(init: SyncSessionInit) {
    this.doc = init.doc
    this.libraryId = init.libraryId
    this.origin = init.origin
    this.awareness = init.awareness
    this.#chunkBytes = init.chunkBytes ?? DEFAULT_CHUNK_BYTES
    this.#maxFramePayloadBytes = init.maxFramePayloadBytes ?? MAX_FRAME_PAYLOAD_BYTES
    this.#assembler = new MessageAssembler({
      maxMessageBytes: init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    })
  }

  get synced(): boolean {
    return this.#appliedPeerState && this.#peerAppliedOurState
  }

  /** The frames that open the exchange: our SyncStep1, then our awareness states if any. */
  open(): Uint8Array[] {
    const encoder = encoding.createEncoder()
    writeSyncStep1(encoder, this.doc)
    const frames = this.#frames(FrameKind.SyncStep1, encoding.toUint8Array(encoder))
    if (this.awareness !== undefined && this.awareness.getStates().size > 0) {
      frames.push(...this.encodeAwareness([...this.awareness.getStates().keys()]))
    }
    return frames
  }

  /** Frames carrying a local Yjs update (as given by doc.on('update')). */
  encodeUpdate(update: Uint8Array): Uint8Array[] {
    const encoder = encoding.createEncoder()
    writeUpdate(encoder, update)
    return this.#frames(FrameKind.Update, encoding.toUint8Array(encoder))
  }

  /** Frames carrying the awareness states of `clients`. */
  encodeAwareness(clients: number[]): Uint8Array[] {
    if (this.awareness === undefined) return []
    return this.#frames(FrameKind.Awareness, encodeAwarenessUpdate(this.awareness, clients))
  }

  keepalive(): Uint8Array[] {
    return this.#frames(FrameKind.Keepalive, new Uint8Array(0))
  }

  /**
   * Takes one encoded frame from the peer. Throws MalformedFrameError, LibraryMismatchError,
   * MessageTooLargeError or UpdateRejectedError; after any of them the channel is not usable
   * (the reassembly state is unknown), so drop it and start a new session.
   */
  receive(bytes: Uint8Array): ReceiveResult {
    const frame = decodeFrame(bytes, { maxPayloadBytes: this.#maxFramePayloadBytes })
    if (frame.libraryId !== this.libraryId) throw new LibraryMismatchError(this.libraryId, frame.libraryId)
    const message = this.#assembler.push(frame)
    if (message === undefined) return NOTHING
    const wasSynced = this.synced
    const replies = this.#handle(message)
    return { replies, becameSynced: !wasSynced && this.synced }
  }

  #handle(message: Message): Uint8Array[] {
    switch (message.kind) {
      case FrameKind.SyncStep1:
      case FrameKind.SyncStep2:
      case FrameKind.Update:
        return this.#handleSyncMessage(message)
      case FrameKind.Awareness:
        this.#handleAwareness(message.payload)
        return []
      case FrameKind.SyncDone:
        expectEmpty(message)
        this.#peerAppliedOurState = true
        return []
      case FrameKind.Keepalive:
        expectEmpty(message)
        return []
    }
  }

  #handleSyncMessage(message: Message): Uint8Array[] {
    checkSyncMessage(message)
    const decoder = decoding.createDecoder(message.payload)
    const encoder = encoding.createEncoder()
    let applyError: Error | undefined
    try {
      // y-protocols catches errors from applyUpdate, logs them and calls this handler.
      readSyncMessage(decoder, encoder, this.doc, this.origin, (err) => {
        applyError = err
      })
    } catch (err) {
      // Only SyncStep1 can throw here: a state vector that does not decode.
      throw new MalformedFrameError(`bad ${frameKindName(message.kind)}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    if (applyError !== undefined) {
      throw new UpdateRejectedError(
        `cannot apply the peer's ${frameKindName(message.kind)}: ${applyError.message}`,
        {
          cause: applyError,
        },
      )
    }
    switch (message.kind) {
      case FrameKind.SyncStep1:
        return this.#frames(FrameKind.SyncStep2, encoding.toUint8Array(encoder))
      case FrameKind.SyncStep2:
        this.#appliedPeerState = true
        return this.#frames(FrameKind.SyncDone, new Uint8Array(0))
      default:
        return []
    }
  }

  #handleAwareness(payload: Uint8Array): void {
    if (this.awareness === undefined) return
    try {
      applyAwarenessUpdate(this.awareness, payload, this.origin)
    } catch (err) {
      throw new MalformedFrameError(`bad awareness update: ${(err as Error).message}`, { cause: err })
    }
  }

  #frames(kind: FrameKind, payload: Uint8Array): Uint8Array[] {
    return splitMessage({ libraryId: this.libraryId, kind, payload }, this.#chunkBytes).map(encodeFrame)
  }
}

function expectEmpty(message: Message): void {
  if (message.payload.length !== 0) {
    throw new MalformedFrameError(
      `${frameKindName(message.kind)} frame carries ${message.payload.length} bytes`,
    )
  }
}

/**
 * A y-protocols sync message is `varUint type, varUint8Array body`. Check the type matches the
 * frame kind and the body fills the payload exactly: lib0 would silently read a short body.
 */
function checkSyncMessage(message: Message): void {
  const decoder = decoding.createDecoder(message.payload)
  try {
    const type = decoding.readVarUint(decoder)
    if (type !== message.kind) {
      throw new MalformedFrameError(
        `${frameKindName(message.kind)} frame holds y-protocols message type ${type}`,
      )
    }
    const length = decoding.readVarUint(decoder)
    const remaining = message.payload.length - decoder.pos
    if (length !== remaining) {
      throw new MalformedFrameError(
        `y-protocols message body is ${remaining} bytes, its header says ${length}`,
      )
    }
  } catch (err) {
    if (err instanceof MalformedFrameError) throw err
    throw new MalformedFrameError(`bad ${frameKindName(message.kind)} message: ${(err as Error).message}`, {
      cause: err,
    })
  }
}
