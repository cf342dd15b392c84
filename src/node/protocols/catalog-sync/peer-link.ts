import type { AbortOptions, Logger, Stream, StreamCloseEvent } from '@libp2p/interface'
import type { SyncSession } from '../../../crdt/sync/index.ts'
import { readMessages, writeMessage } from '../stream-io.ts'
import { SendQueueOverflowError } from './errors.ts'
import { FrameQueue } from './frame-queue.ts'

export interface PeerLinkInit {
  peerId: string
  stream: Stream
  session: SyncSession
  log: Logger
  maxStreamMessageBytes: number
  maxQueuedBytes: number
  keepaliveIntervalMs: number
  onSynced(link: PeerLink): void
  onClosed(link: PeerLink, error: Error | undefined): void
}

/**
 * One live sync stream with one peer: a reader that feeds incoming frames to the session, and a
 * writer that drains a queue of outgoing frames with backpressure. The reader never waits for the
 * writer, so two peers sending each other large states cannot deadlock.
 * The link ends when its stream closes, for whatever reason; the service decides about reopening.
 */
export class PeerLink {
  readonly peerId: string
  readonly stream: Stream
  readonly session: SyncSession
  readonly #init: PeerLinkInit
  readonly #log: Logger
  readonly #lifetime = new AbortController()
  readonly #queue = new FrameQueue()
  #wakeWriter: (() => void) | undefined
  #lastSendAt = Date.now()
  #keepaliveTimer: NodeJS.Timeout | undefined
  #closed = false
  #markEnded: () => void = () => {}
  readonly #ended = new Promise<void>((resolve) => {
    this.#markEnded = resolve
  })

  constructor(init: PeerLinkInit) {
    this.peerId = init.peerId
    this.stream = init.stream
    this.session = init.session
    this.#init = init
    this.#log = init.log
  }

  get synced(): boolean {
    return this.session.synced
  }

  get closed(): boolean {
    return this.#closed
  }

  start(): void {
    if (this.stream.status !== 'open') {
      this.#finish(new Error(`stream is ${this.stream.status} before the link started`))
      return
    }
    this.stream.addEventListener('close', this.#onStreamClose, { once: true })
    this.send(this.session.open())
    void this.#writeLoop()
    void this.#readLoop()
    if (this.#init.keepaliveIntervalMs > 0) {
      this.#keepaliveTimer = setInterval(this.#keepalive, this.#init.keepaliveIntervalMs)
      this.#keepaliveTimer.unref?.() // a number in browsers
    }
  }

  /** Queues encoded frames for the peer. The frames may be shared with other links: they are not modified. */
  send(frames: Uint8Array[]): void {
    if (this.#closed) return
    for (const frame of frames) {
      this.#queue.push(frame)
    }
    if (this.#queue.bytes > this.#init.maxQueuedBytes) {
      this.abort(new SendQueueOverflowError(`${this.#queue.bytes} bytes waiting for ${this.peerId}`))
      return
    }
    this.#wake()
  }

  abort(err: Error): void {
    if (this.#closed) return
    this.stream.abort(err)
    // abort() dispatches 'close', unless the stream had already closed without telling us.
    this.#finish(err)
  }

  /**
   * Closes our writable end (frames still queued here are dropped) and waits for the peer to
   * close its end; aborts the stream if that fails or the signal fires first.
   */
  async close(options: AbortOptions = {}): Promise<void> {
    if (this.#closed) return
    this.#lifetime.abort()
    this.#wake()
    try {
      await this.stream.close(options)
      if (this.#closed) return
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(options.signal?.reason)
        options.signal?.addEventListener('abort', onAbort, { once: true })
        void this.#ended.then(() => {
          options.signal?.removeEventListener('abort', onAbort)
          resolve()
        })
      })
    } catch (err) {
      this.abort(err as Error)
    }
  }

  readonly #onStreamClose = (evt: StreamCloseEvent) => {
    this.#finish(evt.error)
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#lifetime.abort()
    clearInterval(this.#keepaliveTimer)
    this.stream.removeEventListener('close', this.#onStreamClose)
    this.#queue.clear()
    this.#wake()
    this.#markEnded()
    if (error !== undefined) this.#log('sync stream with %s ended: %s', this.peerId, error.message)
    else this.#log('sync stream with %s closed', this.peerId)
    this.#init.onClosed(this, error)
  }

  #wake(): void {
    const wake = this.#wakeWriter
    this.#wakeWriter = undefined
    wake?.()
  }

  async #readLoop(): Promise<void> {
    const signal = this.#lifetime.signal
    try {
      for await (const bytes of readMessages(this.stream, {
        maxMessageLength: this.#init.maxStreamMessageBytes,
        signal,
      })) {
        const { replies, becameSynced } = this.session.receive(bytes)
        if (replies.length > 0) this.send(replies)
        if (becameSynced) this.#init.onSynced(this)
      }
      // The peer closed its end: it is going away, so close ours too.
      if (!this.#closed) await this.close({ signal: AbortSignal.timeout(2_000) })
    } catch (err) {
      if (this.#closed || signal.aborted) return
      this.#log.error('sync stream with %s failed: %s', this.peerId, (err as Error).message)
      this.abort(err as Error)
    }
  }

  async #writeLoop(): Promise<void> {
    const signal = this.#lifetime.signal
    while (!signal.aborted) {
      const frame = this.#queue.shift()
      if (frame === undefined) {
        await new Promise<void>((resolve) => {
          this.#wakeWriter = resolve
        })
        continue
      }
      try {
        await writeMessage(this.stream, frame, { signal })
        this.#lastSendAt = Date.now()
      } catch (err) {
        if (this.#closed || signal.aborted) return
        this.#log.error('cannot write to %s: %s', this.peerId, (err as Error).message)
        this.abort(err as Error)
        return
      }
    }
  }

  readonly #keepalive = () => {
    if (this.#queue.length > 0 || Date.now() - this.#lastSendAt < this.#init.keepaliveIntervalMs / 2) return
    this.send(this.session.keepalive())
  }
}
