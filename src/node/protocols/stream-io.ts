import type { AbortOptions, MessageStream, Stream, StreamCloseEvent } from '@libp2p/interface'

/**
 * Length-prefixed messages on js-libp2p 3 message streams (unsigned-varint length, then the
 * bytes: the same framing as it-length-prefixed / lpStream).
 *
 * Writing honours backpressure: when `send()` returns false we wait for 'drain'.
 * Reading pauses the stream while too many decoded messages wait for the consumer, so a slow
 * consumer slows the sender (yamux stops granting window) instead of growing memory.
 */

export class MessageTooLongError extends Error {
  override name = 'MessageTooLongError'
}

export class InvalidLengthPrefixError extends Error {
  override name = 'InvalidLengthPrefixError'
}

/** The stream ended in the middle of a message. */
export class TruncatedMessageError extends Error {
  override name = 'TruncatedMessageError'
}

/** The stream closed while we waited to write. */
export class StreamClosedError extends Error {
  override name = 'StreamClosedError'
}

/**
 * Bytes a sender may still have in flight after we pause: yamux stops granting window on pause,
 * but up to one window (MAX_STREAM_WINDOW, 16 MiB) can already be on its way.
 */
const IN_FLIGHT_AFTER_PAUSE_BYTES = 16 * 1024 * 1024

/** Longest varint we accept: 7 bytes hold 2^49, far beyond any message we allow. */
const MAX_LENGTH_PREFIX_BYTES = 7

export function encodeLengthPrefix(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid message length ${length}`)
  let size = 1
  for (let rest = length; rest >= 0x80; rest = Math.floor(rest / 0x80)) size++
  const bytes = new Uint8Array(size)
  let rest = length
  for (let i = 0; i < size - 1; i++) {
    bytes[i] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  bytes[size - 1] = rest
  return bytes
}

/**
 * Resolves when `stream` can take more data: at once if its buffers are not full, else on
 * 'drain'. Rejects if the stream closes or the signal aborts first.
 *
 * Why not `stream.onDrain()`: in @libp2p/utils 7.4 its promise is created once per stream and
 * never reset, so after the first drain it resolves at once even when the buffer is full again.
 */
export async function waitForDrain(stream: MessageStream, options: AbortOptions = {}): Promise<void> {
  const { signal } = options
  signal?.throwIfAborted()
  if (!stream.writableNeedsDrain) return
  if (stream.status !== 'open' && stream.status !== 'closing') {
    throw new StreamClosedError(`stream is ${stream.status}`)
  }
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = () => {
      cleanup()
      resolve()
    }
    const onClose = (evt: StreamCloseEvent) => {
      cleanup()
      reject(evt.error ?? new StreamClosedError('stream closed while waiting to write'))
    }
    const onAbort = () => {
      cleanup()
      reject(signal?.reason)
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}

/** Writes one length-prefixed message, then waits while the stream's buffers are full. */
export async function writeMessage(
  stream: MessageStream,
  message: Uint8Array,
  options: AbortOptions = {},
): Promise<void> {
  options.signal?.throwIfAborted()
  // Two sends, so a large message is not copied to prepend its prefix; the stream queues both.
  stream.send(encodeLengthPrefix(message.length))
  if (!stream.send(message)) await waitForDrain(stream, options)
}

export interface ReadMessagesOptions extends AbortOptions {
  /** A message announcing more bytes than this fails with MessageTooLongError (checked before buffering). */
  maxMessageLength: number
  /** Pause the stream when this many decoded bytes wait for the consumer (default 8 MiB). */
  highWaterMark?: number
}

/**
 * Yields the length-prefixed messages arriving on `stream` until the remote closes its writable
 * end. Throws the stream's error if it is reset or aborted, TruncatedMessageError if it ends
 * mid-message, MessageTooLongError on an oversized length, and the signal's reason on abort.
 * Each yielded message is a fresh Uint8Array the consumer may keep.
 */
export async function* readMessages(
  stream: Stream,
  options: ReadMessagesOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { signal, maxMessageLength } = options
  const highWaterMark = options.highWaterMark ?? 8 * 1024 * 1024
  const lowWaterMark = Math.floor(highWaterMark / 2)
  signal?.throwIfAborted()
  // While paused, arriving bytes wait in the stream's read buffer, which resets the stream past
  // maxReadBufferLength (4 MiB by default on yamux): make room for what may still be in flight.
  stream.maxReadBufferLength = Math.max(
    stream.maxReadBufferLength,
    highWaterMark + IN_FLIGHT_AFTER_PAUSE_BYTES,
  )

  const decoder = new LengthPrefixedDecoder(maxMessageLength)
  const queue: Uint8Array[] = []
  let queuedBytes = 0
  let failure: unknown
  // Bytes can sit in the stream's read buffer even once it reports its end (data that arrived
  // while the protocol was being negotiated): those are dispatched to the 'message' listener in a
  // microtask, so the end only counts when that buffer is empty.
  let ended = stream.readableEnded && stream.readBufferLength === 0
  let awaitedBuffer = false
  let pausedByUs = false
  let wake: (() => void) | undefined
  const notify = () => {
    const resolve = wake
    wake = undefined
    resolve?.()
  }

  const deliver = (message: Uint8Array): void => {
    queue.push(message)
    queuedBytes += message.length
  }
  const onMessage = (evt: { data: Uint8Array | Iterable<Uint8Array> }) => {
    if (failure !== undefined) return
    try {
      const data = evt.data
      // A Uint8ArrayList (what yamux hands over) holds its pieces in `bufs`: no iterator per event.
      const pieces = (data as unknown as { bufs?: unknown }).bufs
      if (data instanceof Uint8Array) decoder.push(data, deliver)
      else if (Array.isArray(pieces)) for (const chunk of pieces as Uint8Array[]) decoder.push(chunk, deliver)
      else for (const chunk of data) decoder.push(chunk, deliver)
    } catch (err) {
      failure = err
    }
    if (queuedBytes > highWaterMark && stream.readStatus === 'readable') {
      stream.pause()
      pausedByUs = true
    }
    notify()
  }
  const onEnd = () => {
    ended = true
    notify()
  }
  const onClose = (evt: StreamCloseEvent) => {
    if (evt.error !== undefined) failure ??= evt.error
    ended = true
    notify()
  }
  const onAbort = () => {
    failure ??= signal?.reason
    notify()
  }
  const resumeIfPaused = () => {
    if (!pausedByUs) return
    pausedByUs = false
    if (stream.readStatus === 'paused') stream.resume()
  }

  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)
  signal?.addEventListener('abort', onAbort)
  if (stream.status === 'aborted' || stream.status === 'reset')
    failure ??= new StreamClosedError(`stream is ${stream.status}`)
  try {
    while (true) {
      if (failure !== undefined) throw failure
      const message = queue.shift()
      if (message !== undefined) {
        queuedBytes -= message.length
        if (queuedBytes <= lowWaterMark) resumeIfPaused()
        yield message
        continue
      }
      // Resuming dispatches what the stream buffered while paused, synchronously.
      resumeIfPaused()
      if (queue.length > 0) continue
      if (ended && stream.readBufferLength > 0 && !awaitedBuffer) {
        awaitedBuffer = true
        await new Promise<void>((resolve) => queueMicrotask(resolve))
        continue
      }
      if (ended) {
        if (decoder.hasPartialMessage)
          throw new TruncatedMessageError('stream ended in the middle of a message')
        return
      }
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
    signal?.removeEventListener('abort', onAbort)
    if (pausedByUs && stream.readStatus === 'paused') stream.resume()
  }
}

/**
 * Memory for a message body that is overwritten at once: uninitialised where Node offers it, for
 * large bodies (blocks of 256 KiB, whose zeroing showed in the receiver's profile); zeroed
 * otherwise, and in a browser. Large Node buffers are never slices of Node's shared pool.
 */
const UNINITIALISED_FROM = 64 * 1024
const nodeBuffer = (globalThis as { Buffer?: { allocUnsafe(size: number): Uint8Array } }).Buffer
function allocBody(length: number): Uint8Array {
  return nodeBuffer !== undefined && length >= UNINITIALISED_FROM
    ? nodeBuffer.allocUnsafe(length)
    : new Uint8Array(length)
}

/** Incremental unsigned-varint length-prefix decoder; allocates each message once its length is known. */
class LengthPrefixedDecoder {
  readonly #maxMessageLength: number
  #length = 0
  #lengthBytes = 0
  #lengthShift = 1
  #body: Uint8Array | undefined
  #filled = 0

  constructor(maxMessageLength: number) {
    this.#maxMessageLength = maxMessageLength
  }

  get hasPartialMessage(): boolean {
    return this.#lengthBytes > 0 || this.#body !== undefined
  }

  /** Decodes `chunk`, handing each message completed to `deliver` (no generator per chunk: this runs per 64 KiB). */
  push(chunk: Uint8Array, deliver: (message: Uint8Array) => void): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.#body === undefined) {
        const byte = chunk[offset++]!
        this.#length += (byte & 0x7f) * this.#lengthShift
        this.#lengthShift *= 0x80
        this.#lengthBytes++
        if (byte & 0x80) {
          if (this.#lengthBytes >= MAX_LENGTH_PREFIX_BYTES)
            throw new InvalidLengthPrefixError('length prefix too long')
          continue
        }
        const length = this.#length
        this.#length = 0
        this.#lengthBytes = 0
        this.#lengthShift = 1
        if (length > this.#maxMessageLength) {
          throw new MessageTooLongError(`message of ${length} bytes exceeds ${this.#maxMessageLength}`)
        }
        if (length === 0) {
          deliver(new Uint8Array(0))
          continue
        }
        this.#body = allocBody(length)
        this.#filled = 0
      }
      const body = this.#body
      const take = Math.min(body.length - this.#filled, chunk.length - offset)
      body.set(chunk.subarray(offset, offset + take), this.#filled)
      this.#filled += take
      offset += take
      if (this.#filled === body.length) {
        this.#body = undefined
        deliver(body)
      }
    }
  }
}
