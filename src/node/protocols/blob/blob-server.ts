import type { Logger, Stream, StreamCloseEvent } from '@libp2p/interface'
import { BLOCK_SIZE, blockCount, encodeManifest } from '../../../blobs/content-id.ts'
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
  READ_AHEAD_BYTES,
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

/** Blobs a stream keeps open (a session has up to 16 blobs' requests in flight, see session-pool). */
const OPEN_BLOBS = 32
/** Requests read from the stream ahead of the one being answered. */
const MAX_RECEIVED_REQUESTS = 64
/** Received requests whose blobs are opened ahead of their answer. */
const LOOK_AHEAD_REQUESTS = 16

interface BlockRead {
  contentId: string
  length: number
  promise: Promise<Uint8Array>
  settled: boolean
}

/**
 * Buffers of BLOCK_SIZE the server reads blocks into and recycles once they are copied into a send,
 * rather than one new buffer per block: every MiB of new buffers brings garbage collections nearer
 * (see the node's V8 settings in bin/cloudless.js).
 */
const spares: Uint8Array[] = []
const spareBuffers = new WeakSet<ArrayBufferLike>()
const MAX_SPARES = 64

function spareBlock(blockSize: number): Uint8Array | undefined {
  if (blockSize !== BLOCK_SIZE) return undefined
  const spare = spares.pop()
  if (spare !== undefined) return spare
  const fresh = new Uint8Array(BLOCK_SIZE)
  spareBuffers.add(fresh.buffer)
  return fresh
}

/**
 * Takes back the spare buffer `part` is a view of, if it is one. Each spare is handed to one read,
 * whose block is part of exactly one send: once that send copied it, nothing else holds it.
 */
function recycleSpare(part: Uint8Array): void {
  if (!spareBuffers.has(part.buffer) || spares.length >= MAX_SPARES) return
  spares.push(new Uint8Array(part.buffer, 0, BLOCK_SIZE))
}

/** Blobs whose opening has resolved, for the look-ahead (which does not wait for an opening). */
const settledBlobs = new WeakMap<Promise<ServedBlob | undefined>, ServedBlob>()

function readKey(contentId: string, index: number): string {
  return `${contentId}:${index}`
}

/** A request received and not answered yet, decoded once when first looked at. */
interface ReceivedRequest {
  bytes: Uint8Array
  /** undefined: not decoded yet; null: malformed (answered as such in its turn). */
  decoded: BlobRequest | null | undefined
}

/**
 * The request, or null when it is malformed. Decoded once: the look-ahead looks at every request
 * received for every block sent, and decoding anew made a content ID string each time.
 */
function decodedRequest(received: ReceivedRequest): BlobRequest | null {
  if (received.decoded === undefined) {
    try {
      received.decoded = decodeRequest(received.bytes)
    } catch {
      received.decoded = null
    }
  }
  return received.decoded
}
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
  /**
   * Blobs opened on this stream, most recently used last: a session asks for a blob's manifest and
   * then its blocks, with other blobs' requests in between, and upcoming requests' blobs are opened
   * ahead. At most OPEN_BLOBS; the least recently used one no upcoming request needs is closed.
   */
  readonly #blobs = new Map<string, Promise<ServedBlob | undefined>>()
  /** Requests received and not answered yet, in order (decoded lazily, for the look-ahead). */
  readonly #received: ReceivedRequest[] = []
  /** The content ID of the request being answered. */
  #answering: string | undefined
  #requestsEnded = false
  #requestError: unknown
  #pulling = false
  #wakeAnswerer: (() => void) | undefined
  /** Blocks read ahead (of the request being answered, then of those received after it), by key. */
  readonly #readsAhead = new Map<string, BlockRead>()
  /** Bytes of the blocks in #readsAhead, bounded by READ_AHEAD_BYTES. */
  #readAheadBytes = 0
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
      this.#pull(requests)
      while (true) {
        const timer = setTimeout(() => {
          waiting.abort(
            new RequestTimeoutError(`no request from ${this.#peer} within ${REQUEST_TIMEOUT_MS} ms`),
          )
        }, REQUEST_TIMEOUT_MS)
        let next: Uint8Array | undefined
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
        if (next === undefined) break
        if (!(await this.#answer(next))) break
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
      // The request reader may be waiting for a request that never comes (we sent an error
      // message): stop it, or return() would wait for it.
      waiting.abort(new StreamClosedError('the exchange is over'))
      await requests.return(undefined).catch(() => {})
      await this.#closeBlobs()
    }
  }

  /**
   * Keeps reading requests into #received while they arrive, up to MAX_RECEIVED_REQUESTS (then the
   * stream's reader pauses it: requests are tiny, SERVER_HIGH_WATER_MARK bounds what waits there).
   */
  #pull(requests: AsyncGenerator<Uint8Array, void, undefined>): void {
    if (this.#pulling || this.#requestsEnded || this.#requestError !== undefined) return
    if (this.#received.length >= MAX_RECEIVED_REQUESTS) return
    this.#pulling = true
    requests.next().then(
      (next) => {
        this.#pulling = false
        if (next.done === true) this.#requestsEnded = true
        else this.#received.push({ bytes: next.value, decoded: undefined })
        this.#wakeAnswerer?.()
        this.#pull(requests)
      },
      (err: unknown) => {
        this.#pulling = false
        this.#requestError = err ?? new Error('reading requests failed')
        this.#wakeAnswerer?.()
      },
    )
  }

  /**
   * The next request, or undefined once the client closed its writable end. What is written is sent
   * first unless the request is there already.
   */
  async #nextRequest(requests: AsyncGenerator<Uint8Array, void, undefined>): Promise<Uint8Array | undefined> {
    let flushed = this.#outBytes === 0
    while (true) {
      const next = this.#received.shift()
      if (next !== undefined) {
        this.#pull(requests)
        return next.bytes
      }
      if (this.#requestError !== undefined) throw this.#requestError
      if (this.#requestsEnded) return undefined
      if (!flushed) {
        // A request already received arrives within a turn of the event loop: wait that long first.
        await new Promise<void>((resolve) => setImmediate(resolve))
        if (this.#received.length > 0 || this.#requestError !== undefined || this.#requestsEnded) continue
        flushed = true
        await this.#flush()
        continue
      }
      await new Promise<void>((resolve) => {
        this.#wakeAnswerer = resolve
      })
      this.#wakeAnswerer = undefined
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
    this.#answering = request.contentId
    const blob = await this.#openBlob(request.contentId)
    if (blob === undefined) return false
    if (request.kind === 'manifest') return this.#sendManifest(blob)
    return this.#sendBlocks(blob, request)
  }

  /** The blob, or undefined after answering `not-found` (or the provider's error). */
  async #openBlob(contentId: string): Promise<ServedBlob | undefined> {
    let blob: ServedBlob | undefined
    try {
      blob = await this.#blobOpening(contentId)
    } catch (err) {
      await this.#sendProviderError(err, `cannot open blob ${contentId}`)
      return undefined
    }
    if (blob === undefined) {
      await this.#sendError('not-found', `this device holds no blob ${contentId}`)
      return undefined
    }
    return blob
  }

  /** The blob's opening, started now unless it is open (or opening) already. */
  #blobOpening(contentId: string): Promise<ServedBlob | undefined> {
    let opening = this.#blobs.get(contentId)
    if (opening !== undefined) {
      // Most recently used last.
      this.#blobs.delete(contentId)
      this.#blobs.set(contentId, opening)
      return opening
    }
    const started = Promise.resolve().then(() => this.#provider.open(contentId, this.#signal))
    opening = started
    // Awaited when its request is answered; if the stream fails first, the rejection must not go unhandled.
    started.then(
      (blob) => {
        if (blob !== undefined) settledBlobs.set(started, blob)
      },
      () => {},
    )
    this.#blobs.set(contentId, opening)
    if (this.#blobs.size > OPEN_BLOBS) this.#closeLeastRecentBlob(contentId)
    return opening
  }

  /** Closes the least recently used blob that neither `keep` nor a request received needs. */
  #closeLeastRecentBlob(keep: string): void {
    // Runs once per blob opened beyond OPEN_BLOBS (every blob of a mirror): the first blob in LRU
    // order is nearly always free to go, so it is checked without building a set of the needed ones.
    for (const contentId of this.#blobs.keys()) {
      if (contentId === keep || contentId === this.#answering || this.#isNeeded(contentId)) continue
      const opening = this.#blobs.get(contentId)!
      this.#blobs.delete(contentId)
      void this.#closeBlob(contentId, opening)
      return
    }
  }

  /** Whether a request received or a block read ahead is for this blob. */
  #isNeeded(contentId: string): boolean {
    for (const received of this.#received) if (decodedRequest(received)?.contentId === contentId) return true
    for (const read of this.#readsAhead.values()) if (read.contentId === contentId) return true
    return false
  }

  async #closeBlob(contentId: string, opening: Promise<ServedBlob | undefined>): Promise<void> {
    const blob = await opening.catch(() => undefined)
    if (blob === undefined) return
    try {
      await blob.close()
    } catch (err) {
      this.#log.error('closing blob %s failed: %s', contentId, (err as Error).message)
    }
  }

  async #closeBlobs(): Promise<void> {
    const all = [...this.#blobs]
    this.#blobs.clear()
    await Promise.all(all.map(([contentId, opening]) => this.#closeBlob(contentId, opening)))
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
    // Blocks are read ahead, of this request and then of the requests received after it, so that
    // they are ready to leave together (small files: many answers in one send).
    const current = { contentId: request.contentId, blob, next: first, end }
    for (let index = first; index < end; index++) {
      const read = this.#takeRead(request.contentId, blob, index)
      current.next = index + 1
      this.#readAhead(current)
      let bytes: Uint8Array
      try {
        // Send what is ready rather than let it wait for the disk.
        if (!read.settled) await this.#flush()
        bytes = await read.promise
      } catch (err) {
        await this.#sendProviderError(err, `cannot read block ${index}`)
        return false
      }
      if (bytes.length < 1 || bytes.length > manifest.blockSize) {
        await this.#sendError('internal', `block ${index} was read as ${bytes.length} bytes`)
        return false
      }
      await this.#write(encodeBlockHeader(index), bytes)
    }
    await this.#write(END_MESSAGE)
    // The next requests' blobs and first blocks, before this answer's last send.
    this.#readAhead(undefined)
    return true
  }

  /** Block `index`'s read: the one started ahead, or a new one. */
  #takeRead(contentId: string, blob: ServedBlob, index: number): BlockRead {
    const key = readKey(contentId, index)
    const ahead = this.#readsAhead.get(key)
    if (ahead !== undefined) {
      this.#readsAhead.delete(key)
      this.#readAheadBytes -= ahead.length
      return ahead
    }
    return this.#readBlock(contentId, blob, index)
  }

  /**
   * Starts reads of the blocks to send next, up to READ_AHEAD_BYTES: the rest of the current
   * answer, then the blocks requests received after it (their blobs are opened ahead, up to
   * LOOK_AHEAD_REQUESTS requests; a request whose blob is not open yet ends the look-ahead for now).
   */
  #readAhead(current: { contentId: string; blob: ServedBlob; next: number; end: number } | undefined): void {
    if (this.#signal.aborted) return
    if (current !== undefined && !this.#readRange(current.contentId, current.blob, current.next, current.end))
      return
    let reading = true
    for (let i = 0; i < this.#received.length && i < LOOK_AHEAD_REQUESTS; i++) {
      const request = decodedRequest(this.#received[i]!)
      if (request === null) return
      const opening = this.#blobOpening(request.contentId)
      if (!reading || request.kind !== 'blocks') continue
      const blob = settledBlobs.get(opening)
      if (blob === undefined) {
        // Not open yet: looked at again after the next block sent.
        reading = false
        continue
      }
      const total = blockCount(blob.manifest.size, blob.manifest.blockSize)
      const end = Math.min(request.first + request.count, total)
      if (!this.#readRange(request.contentId, blob, request.first, end)) reading = false
    }
  }

  /** Reads ahead blocks `from` to `end` (exclusive) within the budget; false when it ran out. */
  #readRange(contentId: string, blob: ServedBlob, from: number, end: number): boolean {
    const { blockSize, size } = blob.manifest
    for (let index = from; index < end; index++) {
      const key = readKey(contentId, index)
      if (this.#readsAhead.has(key)) continue
      const length = Math.min(blockSize, size - index * blockSize)
      // One block at least, whatever its size.
      if (this.#readAheadBytes > 0 && this.#readAheadBytes + length > READ_AHEAD_BYTES) return false
      const read = this.#readBlock(contentId, blob, index)
      this.#readsAhead.set(key, read)
      this.#readAheadBytes += read.length
    }
    return true
  }

  #readBlock(contentId: string, blob: ServedBlob, index: number): BlockRead {
    let promise: Promise<Uint8Array>
    try {
      promise = Promise.resolve(blob.readBlock(index, this.#signal, spareBlock(blob.manifest.blockSize)))
    } catch (err) {
      promise = Promise.reject(err)
    }
    const { blockSize, size } = blob.manifest
    const length = Math.max(0, Math.min(blockSize, size - index * blockSize))
    const read: BlockRead = { contentId, length, promise, settled: false }
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
    const parts = this.#out
    const bytes = concat(parts, this.#outBytes)
    // Copied: the spare buffers read into can take the next blocks (a send keeps its bytes).
    if (parts.length > 1) for (const part of parts) recycleSpare(part)
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
