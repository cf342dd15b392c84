import type { Stream } from '@libp2p/interface'
import { type Manifest, verifyBlock, verifyManifest } from '../../../blobs/content-id.ts'
import {
  BLOCK_MESSAGE_HEADER_BYTES,
  type BlobResponse,
  decodeResponse,
  type ErrorResponse,
  encodeRequest,
  MAX_BLOCKS_PER_REQUEST,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_MANIFEST_BYTES,
} from '../../../blobs/wire.ts'
import { readMessages, writeMessage } from '../stream-io.ts'
import {
  CLIENT_HIGH_WATER_MARK,
  CLIENT_READ_BUFFER_LIMIT,
  PIPELINE_DEPTH,
  REQUEST_BYTES,
  RESPONSE_TIMEOUT_MS,
} from './constants.ts'
import {
  BlobChangedError,
  BlobNotFoundError,
  BlobProtocolError,
  BlobTimeoutError,
  BlockVerificationError,
  ManifestVerificationError,
  PeerBusyError,
} from './errors.ts'
import { toError } from './frames.ts'
import type { FetchedBlock } from './index.ts'

/** What one fetch is about; `peer` is only for messages. */
export interface BlobTarget {
  peer: string
  contentId: string
}

/**
 * Asks for the manifest on a fresh outbound stream and returns it verified against the content ID.
 * The caller aborts the stream if this throws.
 */
export async function receiveManifest(
  stream: Stream,
  target: BlobTarget,
  signal: AbortSignal,
): Promise<Manifest> {
  const { peer, contentId } = target
  const reader = new ResponseReader(stream, peer, 1 + MAX_MANIFEST_BYTES, signal)
  try {
    await writeMessage(stream, encodeRequest({ kind: 'manifest', contentId }), { signal })
    await closeWritable(stream, signal)
    const response = await reader.next()
    if (response.kind === 'error') throw errorFromResponse(response, target)
    if (response.kind !== 'manifest') {
      throw new BlobProtocolError(`${peer} answered a manifest request with a ${response.kind} message`)
    }
    try {
      return verifyManifest(contentId, response.manifest)
    } catch (err) {
      throw new ManifestVerificationError(
        `the manifest ${peer} sent is not the one of ${contentId}: ${(err as Error).message}`,
        { cause: err },
      )
    }
  } finally {
    await reader.close()
  }
}

/**
 * Asks for blocks `first` to `first + count - 1` on a fresh outbound stream and yields them in
 * order, each verified against `manifest` first. The range is split into requests of about
 * REQUEST_BYTES, PIPELINE_DEPTH of them in flight: when one response ends the next request is
 * sent, while the server already works on the one queued after it. The caller aborts the stream
 * if this throws or is left early.
 */
export async function* receiveBlocks(
  stream: Stream,
  target: BlobTarget & { manifest: Manifest; first: number; count: number },
  signal: AbortSignal,
): AsyncGenerator<FetchedBlock, void, undefined> {
  const { peer, contentId, manifest } = target
  const requests = splitRange(target.first, target.count, blocksPerRequest(manifest.blockSize))
  // Bounded by the manifest's block size: a peer cannot make us buffer more than one block at a time.
  const maxMessage = Math.max(BLOCK_MESSAGE_HEADER_BYTES + manifest.blockSize, 2 + MAX_ERROR_MESSAGE_BYTES)
  const reader = new ResponseReader(stream, peer, maxMessage, signal)
  let sent = 0
  const sendNext = async (): Promise<void> => {
    const range = requests[sent++]!
    await writeMessage(stream, encodeRequest({ kind: 'blocks', contentId, ...range }), { signal })
    // No more requests: the server ends the stream after the last response.
    if (sent === requests.length) await closeWritable(stream, signal)
  }
  try {
    while (sent < Math.min(PIPELINE_DEPTH, requests.length)) await sendNext()
    let expected = target.first
    for (const range of requests) {
      const end = range.first + range.count
      while (true) {
        const response = await reader.next()
        if (response.kind === 'block') {
          if (response.index !== expected || expected >= end) {
            throw new BlobProtocolError(
              `${peer} sent block ${response.index} where block ${expected} belonged`,
            )
          }
          if (!verifyBlock(manifest, response.index, response.bytes)) {
            throw new BlockVerificationError(
              `block ${response.index} of ${contentId} from ${peer} does not match its hash`,
              response.index,
              contentId,
            )
          }
          expected++
          yield { index: response.index, bytes: response.bytes }
          continue
        }
        if (response.kind === 'end') {
          if (expected !== end) {
            throw new BlobProtocolError(`${peer} ended a response at block ${expected}, before block ${end}`)
          }
          break
        }
        if (response.kind === 'error') throw errorFromResponse(response, target)
        throw new BlobProtocolError(`${peer} answered a blocks request with a manifest`)
      }
      if (sent < requests.length) await sendNext()
    }
  } finally {
    await reader.close()
  }
}

/** Blocks per request: about REQUEST_BYTES, at least one, at most what the wire allows. */
export function blocksPerRequest(blockSize: number): number {
  return Math.max(1, Math.min(MAX_BLOCKS_PER_REQUEST, Math.floor(REQUEST_BYTES / blockSize)))
}

function splitRange(first: number, count: number, perRequest: number): { first: number; count: number }[] {
  const out: { first: number; count: number }[] = []
  for (let offset = 0; offset < count; offset += perRequest) {
    out.push({ first: first + offset, count: Math.min(perRequest, count - offset) })
  }
  return out
}

/** The named error for an error message from the server. */
export function errorFromResponse(response: ErrorResponse, target: BlobTarget): Error {
  const { peer, contentId } = target
  const text = `${peer} about ${contentId}: ${printable(response.message)}`
  switch (response.code) {
    case 'not-found':
      return new BlobNotFoundError(text)
    case 'changed':
      return new BlobChangedError(text)
    case 'busy':
      return new PeerBusyError(text)
    default:
      return new BlobProtocolError(`${response.code} from ${text}`, { code: response.code })
  }
}

/** The peer's text without control characters (it ends up in logs and terminals). */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, MAX_ERROR_MESSAGE_BYTES)
}

async function closeWritable(stream: Stream, signal: AbortSignal): Promise<void> {
  try {
    await stream.close({ signal })
  } catch (err) {
    throw toError(err, 'the stream closed while the request was sent')
  }
}

/** Decoded responses from a stream; the stream is aborted when the peer stays silent too long. */
export class ResponseReader {
  readonly #stream: Stream
  readonly #peer: string
  readonly #messages: AsyncGenerator<Uint8Array, void, undefined>
  /**
   * One timer for the reader's life, re-armed by each wait (refresh()): a new timer per message
   * cost an object and a closure for every 256 KiB block, garbage the node's small heap pays for.
   */
  #timer: ReturnType<typeof setTimeout> | undefined
  #waiting = false

  constructor(stream: Stream, peer: string, maxMessageLength: number, signal: AbortSignal) {
    this.#stream = stream
    this.#peer = peer
    // Past this the stream is reset. While our reader is paused, what the window granted before
    // keeps arriving, and a resume hands the buffered bytes over at once and grants a new window:
    // with the server's 1 MiB sends that can exceed readMessages' own allowance (pause point plus
    // one window), so allow two windows.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, CLIENT_READ_BUFFER_LIMIT)
    this.#messages = readMessages(stream, {
      maxMessageLength,
      highWaterMark: CLIENT_HIGH_WATER_MARK,
      signal,
    })
  }

  /** The next response. Throws BlobProtocolError when the stream ends instead, or it is unreadable. */
  async next(): Promise<BlobResponse> {
    // Only while we wait: a slow consumer of what we yield is not the peer's fault.
    // Browsers' timers have no refresh() (this code runs in the web peer too): a new one there.
    const nodeTimer = this.#timer as { refresh?: () => unknown } | undefined
    if (typeof nodeTimer?.refresh === 'function') nodeTimer.refresh()
    else {
      clearTimeout(this.#timer)
      this.#timer = setTimeout(() => {
        if (!this.#waiting) return
        this.#stream.abort(new BlobTimeoutError(`${this.#peer} sent nothing for ${RESPONSE_TIMEOUT_MS} ms`))
      }, RESPONSE_TIMEOUT_MS)
    }
    this.#waiting = true
    let next: IteratorResult<Uint8Array, void>
    try {
      next = await this.#messages.next()
    } finally {
      this.#waiting = false
    }
    if (next.done === true) throw new BlobProtocolError(`${this.#peer} closed the stream before it answered`)
    try {
      return decodeResponse(next.value)
    } catch (err) {
      throw new BlobProtocolError(`unreadable response from ${this.#peer}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer)
    await this.#messages.return(undefined)
  }
}
