import type { AbortOptions, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { blockCount, isContentId, type Manifest } from '../../../blobs/content-id.ts'
import { MAX_BLOCK_BYTES } from '../../../blobs/wire.ts'
import { membersOnly } from '../../access/members-only.ts'
import { linkedSignal } from '../linked-signal.ts'
import { receiveBlocks, receiveManifest } from './blob-client.ts'
import { BlobStreamServer, refuseBusy } from './blob-server.ts'
import { BlobSessionClient } from './blob-session.ts'
import {
  BLOB_PROTOCOL,
  DEFAULT_MAX_CONCURRENT_PER_PEER,
  DEFAULT_MAX_CONCURRENT_TOTAL,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  OPEN_STREAM_TIMEOUT_MS,
} from './constants.ts'
import {
  BlobChangedError,
  BlobExpectationError,
  BlobNotFoundError,
  BlobProtocolError,
  BlobServiceStoppedError,
  BlobSessionClosedError,
  BlobSessionEndedError,
  BlobTimeoutError,
  BlobTransferError,
  BlockVerificationError,
  ManifestVerificationError,
  PeerBusyError,
} from './errors.ts'
import { toError } from './frames.ts'
import type {
  BlobExchange,
  BlobExchangeComponents,
  BlobExchangeInit,
  BlobSession,
  FetchedBlock,
} from './index.ts'
import { TransferSlots } from './transfer-slots.ts'

/** Errors a fetch throws as they are; anything else from the stream becomes a BlobTransferError. */
const OWN_ERRORS = [
  BlobChangedError,
  BlobExpectationError,
  BlobSessionEndedError,
  BlobSessionClosedError,
  BlobNotFoundError,
  BlobProtocolError,
  BlobTimeoutError,
  BlockVerificationError,
  ManifestVerificationError,
  PeerBusyError,
]

/** Stream-io's framing errors: the peer sent bytes that are not length-prefixed messages in bounds. */
const FRAMING_ERRORS = new Set(['MessageTooLongError', 'InvalidLengthPrefixError', 'TruncatedMessageError'])

/**
 * The blob protocol as a libp2p service: serves this device's blobs to library members (through
 * the BlobProvider) and fetches blobs from other devices. See PROTOCOL.md.
 *
 * Every fetch opens its own stream, closed when the fetch ends; a stream serves the requests sent
 * on it in order. Server streams count against per-peer and total limits; beyond them a stream is
 * answered `busy`.
 */
export class BlobExchangeService implements BlobExchange, Startable {
  readonly protocol = BLOB_PROTOCOL
  readonly #components: BlobExchangeComponents
  readonly #init: BlobExchangeInit
  readonly #log: Logger
  readonly #slots: TransferSlots
  #lifetime = new AbortController()
  #started = false

  constructor(components: BlobExchangeComponents, init: BlobExchangeInit) {
    this.#components = components
    this.#init = init
    this.#log = init.log ?? components.logger.forComponent('cloudless:blob')
    this.#slots = new TransferSlots(
      init.maxConcurrentPerPeer ?? DEFAULT_MAX_CONCURRENT_PER_PEER,
      init.maxConcurrentTotal ?? DEFAULT_MAX_CONCURRENT_TOTAL,
    )
  }

  readonly [Symbol.toStringTag] = '@cloudless/blob'

  isStarted(): boolean {
    return this.#started
  }

  /** Streams being served now (for status displays and tests). */
  get activeTransfers(): number {
    return this.#slots.active
  }

  async start(options?: AbortOptions): Promise<void> {
    if (this.#started) return
    this.#lifetime = new AbortController()
    this.#started = true
    const members = { isMember: (peer: string) => this.#isMember(peer) }
    await this.#components.registrar.handle(this.protocol, membersOnly(members, this.#onStream), {
      maxInboundStreams: Math.max(MAX_INBOUND_STREAMS, this.#slots.maxPerPeer + 8),
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      // Our own relay lifts the 2 min / 128 KiB limits of relayed connections, so media can flow
      // through it; a relay with limits stays usable for small blobs (covers).
      runOnLimitedConnection: true,
      ...options,
    })
  }

  async stop(options?: AbortOptions): Promise<void> {
    if (!this.#started) return
    this.#started = false
    // Aborts every stream being served and every fetch in progress.
    this.#lifetime.abort(new BlobServiceStoppedError('the blob service stopped'))
    await this.#components.registrar.unhandle(this.protocol, options)
  }

  async fetchManifest(
    peer: PeerId | string,
    contentId: string,
    options: AbortOptions = {},
  ): Promise<Manifest> {
    if (!isContentId(contentId)) throw new RangeError(`not a content ID: ${contentId.slice(0, 64)}`)
    const target = { peer: peer.toString(), contentId }
    const { signal, dispose } = this.#signalFor(options)
    let stream: Stream | undefined
    try {
      stream = await this.#openStream(peer, signal)
      return await receiveManifest(stream, target, signal)
    } catch (err) {
      const error = this.#failure(err, options, target.peer)
      stream?.abort(error)
      throw error
    } finally {
      dispose()
    }
  }

  fetchBlocks(
    peer: PeerId | string,
    contentId: string,
    manifest: Manifest,
    first: number,
    count: number,
    options: AbortOptions = {},
  ): AsyncIterable<FetchedBlock> {
    if (!isContentId(contentId)) throw new RangeError(`not a content ID: ${contentId.slice(0, 64)}`)
    const total = blockCount(manifest.size, manifest.blockSize)
    if (
      !Number.isInteger(first) ||
      !Number.isInteger(count) ||
      first < 0 ||
      count < 0 ||
      first + count > total
    ) {
      throw new RangeError(`blocks ${first}+${count} are outside the blob's ${total} blocks`)
    }
    if (manifest.blockSize > MAX_BLOCK_BYTES) {
      throw new RangeError(`blocks of ${manifest.blockSize} bytes exceed the protocol's ${MAX_BLOCK_BYTES}`)
    }
    return this.#fetchBlocks({ peer, contentId, manifest, first, count }, options)
  }

  async *#fetchBlocks(
    request: { peer: PeerId | string; contentId: string; manifest: Manifest; first: number; count: number },
    options: AbortOptions,
  ): AsyncGenerator<FetchedBlock, void, undefined> {
    if (request.count === 0) return
    const target = { ...request, peer: request.peer.toString() }
    const { signal, dispose } = this.#signalFor(options)
    let stream: Stream | undefined
    let finished = false
    // The consumer may be busy elsewhere when the signal fires: reset the stream at once, so the
    // server stops too, rather than when the consumer next asks for a block.
    const onAbort = (): void => stream?.abort(toError(signal.reason, 'the fetch was aborted'))
    signal.addEventListener('abort', onAbort)
    try {
      stream = await this.#openStream(request.peer, signal)
      yield* receiveBlocks(stream, target, signal)
      finished = true
    } catch (err) {
      const error = this.#failure(err, options, target.peer)
      stream?.abort(error)
      throw error
    } finally {
      signal.removeEventListener('abort', onAbort)
      dispose()
      // Left early (break, return): tell the server to stop.
      if (!finished) stream?.abort(new Error('the consumer stopped reading blocks'))
    }
  }

  async openSession(peer: PeerId | string, options: AbortOptions = {}): Promise<BlobSession> {
    const peerName = peer.toString()
    const { signal, dispose } = this.#signalFor(options)
    let stream: Stream
    try {
      stream = await this.#openStream(peer, signal)
    } catch (err) {
      dispose()
      throw this.#failure(err, options, peerName)
    }
    const onAbort = (): void => stream.abort(toError(signal.reason, 'the session was aborted'))
    signal.addEventListener('abort', onAbort)
    return new BlobSessionClient({
      peer: peerName,
      stream,
      signal,
      mapError: (err) => this.#failure(err, options, peerName),
      dispose: () => {
        signal.removeEventListener('abort', onAbort)
        dispose()
      },
    })
  }

  #signalFor(options: AbortOptions): { signal: AbortSignal; dispose(): void } {
    if (!this.#started) throw new BlobServiceStoppedError('the blob service is not running')
    options.signal?.throwIfAborted()
    // A signal of its own, linked to the lifetime's and unlinked when the fetch ends.
    return linkedSignal(options.signal, this.#lifetime.signal)
  }

  async #openStream(peer: PeerId | string, signal: AbortSignal): Promise<Stream> {
    const peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const opening = AbortSignal.any([signal, AbortSignal.timeout(OPEN_STREAM_TIMEOUT_MS)])
    const connection = await this.#components.connectionManager.openConnection(peerId, { signal: opening })
    const stream = await connection.newStream(this.protocol, {
      signal: opening,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: true,
    })
    this.#countWhileOpen(stream)
    return stream
  }

  /** Tells the init's onStreamOpen about a stream until it closes. */
  #countWhileOpen(stream: Stream): void {
    const onStreamOpen = this.#init.onStreamOpen
    if (onStreamOpen === undefined) return
    const closed = onStreamOpen()
    if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') closed()
    else stream.addEventListener('close', closed, { once: true })
  }

  /** What a failed fetch throws: the caller's abort reason, one of our named errors, or a BlobTransferError. */
  #failure(err: unknown, options: AbortOptions, peer: string): Error {
    if (options.signal?.aborted === true) return toError(options.signal.reason, 'the fetch was aborted')
    if (this.#lifetime.signal.aborted)
      return new BlobServiceStoppedError('the blob service stopped', { cause: err })
    const error = toError(err, 'the blob stream failed')
    if (OWN_ERRORS.some((kind) => error instanceof kind)) return error
    if (FRAMING_ERRORS.has(error.name)) {
      return new BlobProtocolError(`${peer} sent a malformed message: ${error.message}`, { cause: error })
    }
    return new BlobTransferError(`the transfer from ${peer} failed: ${error.message}`, { cause: error })
  }

  #isMember(peer: string): boolean {
    try {
      return this.#init.isMember(peer)
    } catch (err) {
      this.#log.error('isMember(%s) threw, refusing the peer: %s', peer, (err as Error).message)
      return false
    }
  }

  readonly #onStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    if (!this.#started) {
      stream.abort(new BlobServiceStoppedError('the blob service stopped'))
      return
    }
    const release = this.#slots.tryAcquire(peer)
    if (release === undefined) {
      this.#log('busy: refusing a blob stream from %s', peer)
      await refuseBusy(stream, this.#busyMessage(peer))
      return
    }
    this.#countWhileOpen(stream)
    try {
      const server = new BlobStreamServer({
        stream,
        peer,
        provider: this.#init.provider,
        log: this.#log,
        signal: this.#lifetime.signal,
      })
      await server.serve()
    } catch (err) {
      this.#log.error('serving %s failed: %s', peer, (err as Error).message)
      stream.abort(toError(err, 'serving the blob stream failed'))
    } finally {
      release()
    }
  }

  #busyMessage(peer: string): string {
    if (this.#slots.activeFor(peer) >= this.#slots.maxPerPeer) {
      return `already serving ${this.#slots.maxPerPeer} streams to this device; try again shortly`
    }
    return `already serving ${this.#slots.maxTotal} streams; try again shortly or ask another device`
  }
}
