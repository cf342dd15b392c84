import type { Logger, Stream, StreamCloseEvent } from '@libp2p/interface'
import { blockCount, encodeManifest } from '../../../blobs/content-id.ts'
import {
  type BlobErrorCode,
  type BlobRequest,
  type BlocksRequest,
  decodeRequest,
  encodeBlockHeader,
  encodeResponse,
  MAX_BLOCK_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_REQUEST_BYTES,
  MalformedBlobMessageError,
  MessageKind,
} from '../../../blobs/wire.ts'
import { encodeLengthPrefix, readMessages, StreamClosedError, waitForDrain } from '../stream-io.ts'
import {
  CLOSE_TIMEOUT_MS,
  FLUSH_BYTES,
  READ_AHEAD_BLOCKS,
  REQUEST_TIMEOUT_MS,
  SERVER_HIGH_WATER_MARK,
  STALL_TIMEOUT_MS,
} from './constants.ts'
import { ClientStalledError, RequestTimeoutError } from './errors.ts'
import { sendMessageParts, toError } from './frames.ts'
import type { BlobProvider, ServedBlob } from './index.ts'

export interface BlobStreamServerInit {
  stream: Stream
  peer: string
  provider: BlobProvider
  log: Logger
  /** The service's lifetime: when it aborts, the stream is aborted. */
  signal: AbortSignal
}

const END_MESSAGE = encodeResponse({ kind: 'end' })
const MANIFEST_HEAD = Uint8Array.of(MessageKind.Manifest)

/**
 * Serves one inbound stream: reads requests one at a time and answers each in order, until the
 * client closes its writable end, an error message was sent (it ends the exchange), or the stream
 * fails. Requests a client pipelines wait in the stream meanwhile (a few KiB at most: the reader
 * pauses the stream beyond SERVER_HIGH_WATER_MARK).
 *
 * Backpressure: a block is read from the provider only while the previous one is being written,
 * and every write waits for drain, so at most two blocks wait here beyond what the network took.
 */
export class BlobStreamServer {
  readonly #stream: Stream
  readonly #peer: string
  readonly #provider: BlobProvider
  readonly #log: Logger
  readonly #closed = new AbortController()
  /** Aborts when the stream closes or the service stops: pending reads and writes give up. */
  readonly #signal: AbortSignal
  readonly #unlinkLifetime: () => void
  /** The blob of the last request, kept open for the next request on the same stream. */
  #open: { contentId: string; blob: ServedBlob } | undefined
  /**
   * Messages written but not sent yet. They leave together in one send() (one muxer frame, one
   * window update from the client, a few system calls) once FLUSH_BYTES are waiting, or before
   * the server would wait for a disk read or the next request.
   */
  #out: Uint8Array[] = []
  #outBytes = 0

  constructor(init: BlobStreamServerInit) {
    this.#stream = init.stream
    this.#peer = init.peer
    this.#provider = init.provider
    this.#log = init.log
    // Linked by hand, not AbortSignal.any(): init.signal is the service's lifetime (linked-signal.ts).
    this.#signal = this.#closed.signal
    this.#unlinkLifetime = linkedAbort(init.signal, this.#closed)
  }

  async serve(): Promise<void> {
    const stream = this.#stream
    const onClose = (evt: StreamCloseEvent): void => {
      this.#closed.abort(evt.error ?? new StreamClosedError('the stream closed'))
    }
    stream.addEventListener('close', onClose)
    if (stream.status !== 'open') this.#closed.abort(new StreamClosedError(`stream is ${stream.status}`))
    const waiting = new AbortController()
    const requests = readMessages(stream, {
      maxMessageLength: MAX_REQUEST_BYTES,
      highWaterMark: SERVER_HIGH_WATER_MARK,
      signal: AbortSignal.any([this.#signal, waiting.signal]),
    })
    try {
      while (true) {
        const timer = setTimeout(() => {
          waiting.abort(
            new RequestTimeoutError(`no request from ${this.#peer} within ${REQUEST_TIMEOUT_MS} ms`),
          )
        }, REQUEST_TIMEOUT_MS)
        let next: IteratorResult<Uint8Array, void>
        try {
          next = await this.#nextRequest(requests)
        } catch (err) {
          // A length prefix too long or damaged: the framing is lost, so say so and stop.
          const name = (err as Error).name
          if (name !== 'MessageTooLongError' && name !== 'InvalidLengthPrefixError') throw err
          await this.#sendError('bad-request', (err as Error).message)
          break
        } finally {
          clearTimeout(timer)
        }
        if (next.done === true) break
        if (!(await this.#answer(next.value))) break
      }
      await this.#flush()
      // The last blocks may still wait for a slow consumer to make room: give it the stall time.
      await stream.close({ signal: AbortSignal.any([this.#signal, AbortSignal.timeout(STALL_TIMEOUT_MS)]) })
    } catch (err) {
      const error = toError(err, 'the blob stream failed')
      if (!this.#closed.signal.aborted) this.#log('blob stream from %s ended: %s', this.#peer, error.message)
      stream.abort(error)
    } finally {
      stream.removeEventListener('close', onClose)
      this.#unlinkLifetime()
      await requests.return(undefined)
      await this.#closeBlob()
    }
  }

  /** Answers one request; false when an error message was sent, which ends the exchange. */
  async #answer(bytes: Uint8Array): Promise<boolean> {
    let request: BlobRequest
    try {
      request = decodeRequest(bytes)
    } catch (err) {
      if (!(err instanceof MalformedBlobMessageError)) throw err
      await this.#sendError('bad-request', err.message)
      return false
    }
    const blob = await this.#openBlob(request.contentId)
    if (blob === undefined) return false
    if (request.kind === 'manifest') return this.#sendManifest(blob)
    return this.#sendBlocks(blob, request)
  }

  /** The blob, or undefined after answering `not-found` (or the provider's error). */
  async #openBlob(contentId: string): Promise<ServedBlob | undefined> {
    if (this.#open?.contentId === contentId) return this.#open.blob
    await this.#closeBlob()
    let blob: ServedBlob | undefined
    try {
      blob = await this.#provider.open(contentId, this.#signal)
    } catch (err) {
      await this.#sendProviderError(err, `cannot open blob ${contentId}`)
      return undefined
    }
    if (blob === undefined) {
      await this.#sendError('not-found', `this device holds no blob ${contentId}`)
      return undefined
    }
    this.#open = { contentId, blob }
    return blob
  }

  async #closeBlob(): Promise<void> {
    const open = this.#open
    this.#open = undefined
    if (open === undefined) return
    try {
      await open.blob.close()
    } catch (err) {
      this.#log.error('closing blob %s failed: %s', open.contentId, (err as Error).message)
    }
  }

  async #sendManifest(blob: ServedBlob): Promise<boolean> {
    const bytes = encodeManifest(blob.manifest)
    if (bytes.length > MAX_MANIFEST_BYTES) {
      await this.#sendError('internal', `the manifest of ${bytes.length} bytes is too large for the protocol`)
      return false
    }
    await this.#write(MANIFEST_HEAD, bytes)
    return true
  }

  async #sendBlocks(blob: ServedBlob, request: BlocksRequest): Promise<boolean> {
    const { manifest } = blob
    const total = blockCount(manifest.size, manifest.blockSize)
    const { first } = request
    const end = first + request.count
    if (end > total) {
      const has = total === 0 ? 'no blocks' : `blocks 0-${total - 1}`
      await this.#sendError('bad-request', `asked for blocks ${first}-${end - 1}; the blob has ${has}`)
      return false
    }
    if (manifest.blockSize > MAX_BLOCK_BYTES) {
      await this.#sendError(
        'internal',
        `blocks of ${manifest.blockSize} bytes are too large for the protocol`,
      )
      return false
    }
    // A few blocks are read ahead, so that they are ready to leave together.
    const reads: Array<{ promise: Promise<Uint8Array>; settled: boolean }> = []
    let nextRead = first
    const readAhead = () => {
      while (nextRead < end && reads.length < READ_AHEAD_BLOCKS) reads.push(this.#readBlock(blob, nextRead++))
    }
    readAhead()
    for (let index = first; index < end; index++) {
      const read = reads.shift()!
      let bytes: Uint8Array
      try {
        // Send what is ready rather than let it wait for the disk.
        if (!read.settled) await this.#flush()
        bytes = await read.promise
      } catch (err) {
        await this.#sendProviderError(err, `cannot read block ${index}`)
        return false
      }
      readAhead()
      if (bytes.length < 1 || bytes.length > manifest.blockSize) {
        await this.#sendError('internal', `block ${index} was read as ${bytes.length} bytes`)
        return false
      }
      await this.#write(encodeBlockHeader(index), bytes)
    }
    await this.#write(END_MESSAGE)
    return true
  }

  #readBlock(blob: ServedBlob, index: number): { promise: Promise<Uint8Array>; settled: boolean } {
    let promise: Promise<Uint8Array>
    try {
      promise = Promise.resolve(blob.readBlock(index, this.#signal))
    } catch (err) {
      promise = Promise.reject(err)
    }
    const read = { promise, settled: false }
    // Awaited later; if the stream fails first, the rejection must not go unhandled.
    promise.then(
      () => {
        read.settled = true
      },
      () => {
        read.settled = true
      },
    )
    return read
  }

  /** The next request; what is written is sent first unless the request is there already. */
  async #nextRequest(
    requests: AsyncGenerator<Uint8Array, void, undefined>,
  ): Promise<IteratorResult<Uint8Array, void>> {
    const next = requests.next()
    if (this.#outBytes > 0) {
      // A request already received resolves within microtasks, before the next turn of the loop.
      const ready = await Promise.race([
        next.then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => setImmediate(resolve, false)),
      ])
      if (!ready) await this.#flush()
    }
    return next
  }

  async #sendProviderError(err: unknown, what: string): Promise<void> {
    // The stream is gone (or the service stopping): there is no one to answer.
    this.#signal.throwIfAborted()
    const message = (err as Error | undefined)?.message ?? String(err)
    if ((err as Error | undefined)?.name === 'BlobChangedError') {
      await this.#sendError('changed', `${what}: the file changed since it was hashed (${message})`)
      return
    }
    this.#log.error('%s for %s: %s', what, this.#peer, message)
    await this.#sendError('internal', `${what}: ${message}`)
  }

  async #sendError(code: BlobErrorCode, message: string): Promise<void> {
    await this.#write(encodeResponse({ kind: 'error', code, message }))
    await this.#flush()
  }

  /** Queues one message; sends the queue once FLUSH_BYTES wait. */
  async #write(head: Uint8Array, body?: Uint8Array): Promise<void> {
    this.#signal.throwIfAborted()
    const length = head.length + (body?.length ?? 0)
    const prefix = encodeLengthPrefix(length)
    this.#out.push(prefix, head)
    if (body !== undefined) this.#out.push(body)
    this.#outBytes += prefix.length + length
    if (this.#outBytes >= FLUSH_BYTES) await this.#flush()
  }

  /** Sends what was written, in one piece; waits while the stream's buffers are full, giving up on a client that stalls. */
  async #flush(): Promise<void> {
    if (this.#outBytes === 0) return
    this.#signal.throwIfAborted()
    const bytes = concat(this.#out, this.#outBytes)
    this.#out = []
    this.#outBytes = 0
    if (this.#stream.send(bytes)) return
    const stalled = new AbortController()
    const timer = setTimeout(() => {
      stalled.abort(new ClientStalledError(`${this.#peer} took no bytes for ${STALL_TIMEOUT_MS} ms`))
    }, STALL_TIMEOUT_MS)
    try {
      await waitForDrain(this.#stream, { signal: AbortSignal.any([this.#signal, stalled.signal]) })
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * Answers a stream over the concurrency limits with `busy`. It reads the first request before
 * answering, like any response: bytes that reach a client while it still negotiates the protocol
 * can be lost to its reader if the stream also ends then (stream-io's readMessages trusts
 * `readableEnded`, which multistream-select's read-ahead can set before pushing bytes back).
 */
export async function refuseBusy(stream: Stream, message: string): Promise<void> {
  const requests = readMessages(stream, {
    maxMessageLength: MAX_REQUEST_BYTES,
    highWaterMark: SERVER_HIGH_WATER_MARK,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  })
  try {
    await requests.next()
    sendMessageParts(stream, encodeResponse({ kind: 'error', code: 'busy', message }))
    await stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
  } catch (err) {
    stream.abort(toError(err, 'could not answer busy'))
  } finally {
    await requests.return(undefined)
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = Buffer.allocUnsafe(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** Aborts `target` when `source` aborts, until the returned function is called. */
function linkedAbort(source: AbortSignal, target: AbortController): () => void {
  if (source.aborted) {
    target.abort(source.reason)
    return () => {}
  }
  const onAbort = () => target.abort(source.reason)
  source.addEventListener('abort', onAbort, { once: true })
  return () => source.removeEventListener('abort', onAbort)
}
