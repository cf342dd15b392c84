import type { Stream } from '@libp2p/interface'
import { blockCount, type Manifest, verifyBlock, verifyManifest } from '../../../blobs/content-id.ts'
import {
  BLOCK_MESSAGE_HEADER_BYTES,
  type BlobResponse,
  encodeRequest,
  MAX_BLOCK_BYTES,
  MAX_BLOCKS_PER_REQUEST,
  MAX_MANIFEST_BYTES,
} from '../../../blobs/wire.ts'
import { encodeLengthPrefix } from '../stream-io.ts'
import { errorFromResponse, ResponseReader } from './blob-client.ts'
import { SESSION_IN_FLIGHT_BYTES } from './constants.ts'
import {
  BlobExpectationError,
  BlobProtocolError,
  BlobSessionClosedError,
  BlobSessionEndedError,
  BlockVerificationError,
  ManifestVerificationError,
} from './errors.ts'
import { toError } from './frames.ts'
import type { BlobSession, FetchedBlock } from './index.ts'

interface ManifestCall {
  kind: 'manifest'
  contentId: string
  /** The blocks call asked for with it (manifestAndBlocks): it learns the manifest from this one. */
  feeds: BlocksCall | undefined
  resolve(manifest: Manifest): void
  reject(error: Error): void
}

interface BlocksCall {
  kind: 'blocks'
  contentId: string
  /** Undefined until the manifest asked for with it has arrived (manifestAndBlocks). */
  manifest: Manifest | undefined
  blockSize: number
  /** What manifestAndBlocks expects the manifest to say (the blocks asked for rest on it). */
  expectedSize: number | undefined
  /** Runs once the manifest has arrived, before any block reaches onBlock. */
  onManifest: ((manifest: Manifest) => Promise<void> | void) | undefined
  /** onManifest's run, awaited before the first block. */
  ready: Promise<void> | undefined
  /** The next block expected, and the end of the wire request being answered. */
  next: number
  /** First and end (exclusive) block of each wire request not answered completely yet. */
  rangeStarts: number[]
  rangeEnds: number[]
  onBlock(block: FetchedBlock): Promise<void> | void
  /** Set when onBlock failed: the rest of this answer is read and dropped. */
  failed: Error | undefined
  /** Blocks reach onBlock unverified; the consumer verifies them (manifestAndBlocks). */
  consumerVerifies: boolean
  resolve(): void
  reject(error: Error): void
}

type Call = ManifestCall | BlocksCall

/**
 * Requests wait for the end of this turn of the event loop to leave together while the requests
 * already sent may still bring this much. (They waited 5 ms before; but sizes are counted at full
 * block size, and with small files the server had answered everything long before: in a 10k-track
 * mirror the serving side spent 3/4 of its time waiting for requests.)
 */
const REQUEST_COALESCE_BYTES = 2 * 1024 * 1024

/** What a manifest request counts against the in-flight limit (a 2 GB file's manifest). */
const MANIFEST_COST = 256 * 1024

function blockRangeCosts(call: BlocksCall): number[] {
  return call.rangeEnds.map((end, i) => (end - call.rangeStarts[i]!) * call.blockSize)
}

/** Largest response a session accepts: a manifest of the biggest blob, or the biggest block. */
const MAX_SESSION_MESSAGE = Math.max(1 + MAX_MANIFEST_BYTES, BLOCK_MESSAGE_HEADER_BYTES + MAX_BLOCK_BYTES)

/**
 * Many requests on one stream (PROTOCOL.md, "Flow": pipelining). Each call queues its requests at
 * once; the server answers in order, so answers are matched to calls first in, first out. Blocks are
 * verified before onBlock sees them, and the next message is read only once onBlock has resolved,
 * so a slow consumer slows the server down (the reader pauses the stream, yamux stops granting
 * window).
 *
 * An error message from the server ends the exchange: the call it answers fails with the named
 * error, every other waiting call with BlobSessionEndedError (ask again on another session). A
 * failing stream fails every waiting call. The session's signal resets the stream.
 */
export class BlobSessionClient implements BlobSession {
  readonly peer: string
  readonly #stream: Stream
  readonly #reader: ResponseReader
  readonly #signal: AbortSignal
  readonly #mapError: (err: unknown) => Error
  readonly #dispose: () => void
  readonly #calls: Call[] = []
  /** Encoded requests waiting for the next flush (requests queued together leave in one frame). */
  #outgoing: Uint8Array[] = []
  /** Requests not sent yet because SESSION_IN_FLIGHT_BYTES are asked for already. */
  readonly #held: Array<{ bytes: Uint8Array; cost: number }> = []
  /** Bytes the requests sent may still bring (their blocks at full size); freed as each is answered. */
  #inFlight = 0
  /** What the requests in #outgoing count against the in-flight limit. */
  #outgoingCost = 0
  #flushQueued = false
  #closing = false
  #failure: Error | undefined
  #wakeReader: (() => void) | undefined
  readonly #done: Promise<void>

  constructor(init: {
    peer: string
    stream: Stream
    signal: AbortSignal
    mapError: (err: unknown) => Error
    dispose: () => void
  }) {
    this.peer = init.peer
    this.#stream = init.stream
    this.#signal = init.signal
    this.#mapError = init.mapError
    this.#dispose = init.dispose
    this.#reader = new ResponseReader(init.stream, init.peer, MAX_SESSION_MESSAGE, init.signal)
    // Everything asked for may wait in the paused stream (see #release), plus one message being cut.
    init.stream.maxReadBufferLength = Math.max(
      init.stream.maxReadBufferLength,
      SESSION_IN_FLIGHT_BYTES + MAX_SESSION_MESSAGE,
    )
    this.#done = this.#run()
  }

  /** Calls not answered completely yet. */
  get pending(): number {
    return this.#calls.length
  }

  /** True once the session takes no more calls (closed, failed, or ended by an error message). */
  get closed(): boolean {
    return this.#closing || this.#failure !== undefined
  }

  manifest(contentId: string): Promise<Manifest> {
    return new Promise<Manifest>((resolve, reject) => {
      this.#enqueue({ kind: 'manifest', contentId, feeds: undefined, resolve, reject }, [
        encodeRequest({ kind: 'manifest', contentId }),
      ])
    })
  }

  blocks(
    contentId: string,
    manifest: Manifest,
    first: number,
    count: number,
    onBlock: (block: FetchedBlock) => Promise<void> | void,
  ): Promise<void> {
    if (count === 0) return Promise.resolve()
    const { call, requests, done } = blocksCall(
      contentId,
      manifest,
      manifest.blockSize,
      first,
      count,
      onBlock,
    )
    this.#enqueue(call, requests)
    return done
  }

  manifestAndBlocks(
    contentId: string,
    expected: { size: number; blockSize: number },
    onManifest: (manifest: Manifest) => Promise<void> | void,
    onBlock: (block: FetchedBlock) => Promise<void> | void,
    options: { consumerVerifies?: boolean } = {},
  ): Promise<Manifest> {
    const count = blockCount(expected.size, expected.blockSize)
    const blocks =
      count === 0 ? undefined : blocksCall(contentId, undefined, expected.blockSize, 0, count, onBlock)
    if (blocks !== undefined) {
      blocks.call.expectedSize = expected.size
      blocks.call.onManifest = onManifest
      blocks.call.consumerVerifies = options.consumerVerifies === true
    }
    const manifest = new Promise<Manifest>((resolve, reject) => {
      this.#enqueue({ kind: 'manifest', contentId, feeds: blocks?.call, resolve, reject }, [
        encodeRequest({ kind: 'manifest', contentId }),
      ])
    })
    if (blocks === undefined) {
      return manifest.then(async (m) => {
        await onManifest(m)
        return m
      })
    }
    this.#enqueue(blocks.call, blocks.requests)
    return Promise.all([manifest, blocks.done]).then(([m]) => m)
  }

  /** Sends no more requests; resolves once every call is answered and the stream is closed. */
  async close(): Promise<void> {
    this.#closing = true
    this.#wakeReader?.()
    await this.#done
  }

  /** Resets the stream: every waiting call fails with `reason`. */
  abort(reason: Error): void {
    this.#fail(reason)
    this.#stream.abort(reason)
  }

  #enqueue(call: Call, requests: Uint8Array[]): void {
    if (this.#failure !== undefined) {
      call.reject(this.#failure)
      return
    }
    if (this.#closing) {
      call.reject(new BlobSessionClosedError(`the session with ${this.peer} is closed`))
      return
    }
    this.#calls.push(call)
    const costs = call.kind === 'manifest' ? [MANIFEST_COST] : blockRangeCosts(call)
    for (const [i, request] of requests.entries()) this.#held.push({ bytes: request, cost: costs[i]! })
    this.#release(0)
    this.#wakeReader?.()
  }

  /**
   * Frees `answered` bytes of credit and sends the held requests that now fit. The server can send
   * only what was asked for, so this bounds what can pile up in the stream while our reader is
   * paused (a pause alone does not: each resume grants the sender a new window).
   */
  #release(answered: number): void {
    this.#inFlight -= answered
    while (this.#held.length > 0) {
      const next = this.#held[0]!
      if (this.#inFlight > 0 && this.#inFlight + next.cost > SESSION_IN_FLIGHT_BYTES) break
      this.#held.shift()
      this.#inFlight += next.cost
      this.#outgoingCost += next.cost
      this.#outgoing.push(encodeLengthPrefix(next.bytes.length), next.bytes)
    }
    if (this.#outgoing.length > 0 && !this.#flushQueued) {
      this.#flushQueued = true
      // Each send is a muxer frame and a socket write (a system call on both sides, noise): while
      // the server still has plenty to answer, requests freed over the next moment leave together.
      if (this.#inFlight - this.#outgoingCost >= REQUEST_COALESCE_BYTES) {
        setImmediate(() => this.#flush())
      } else queueMicrotask(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushQueued = false
    if (this.#outgoing.length === 0 || this.#failure !== undefined) return
    const bytes = concat(this.#outgoing)
    this.#outgoing = []
    this.#outgoingCost = 0
    try {
      // Requests are tiny and bounded by the calls the owner keeps waiting: no drain needed.
      this.#stream.send(bytes)
    } catch (err) {
      this.abort(this.#mapError(err))
    }
  }

  async #run(): Promise<void> {
    try {
      while (true) {
        if (this.#calls.length === 0) {
          if (this.#closing) break
          await new Promise<void>((resolve) => {
            this.#wakeReader = resolve
          })
          this.#wakeReader = undefined
          continue
        }
        const response = await this.#reader.next()
        if (!(await this.#dispatch(this.#calls[0]!, response))) return
      }
      this.#flush()
      await this.#stream.close({ signal: this.#signal })
    } catch (err) {
      const error = this.#signal.aborted ? this.#mapError(this.#signal.reason) : this.#mapError(err)
      this.#fail(error)
      this.#stream.abort(error)
    } finally {
      await this.#reader.close().catch(() => {})
      this.#dispose()
    }
  }

  /** Handles one response to `call`; false when it ended the exchange. */
  async #dispatch(call: Call, response: BlobResponse): Promise<boolean> {
    if (response.kind === 'error') {
      const error = errorFromResponse(response, { peer: this.peer, contentId: call.contentId })
      this.#calls.shift()
      // Blocks asked for beyond a blob smaller than expected are refused (`bad-request`): the
      // caller learns why, and asks again by the manifest.
      call.reject(call.kind === 'blocks' && call.failed instanceof BlobExpectationError ? call.failed : error)
      this.#fail(new BlobSessionEndedError(`${this.peer} ended the session: ${error.message}`))
      this.#stream.abort(error)
      return false
    }
    if (call.kind === 'manifest') {
      if (response.kind !== 'manifest') {
        throw new BlobProtocolError(
          `${this.peer} answered a manifest request with a ${response.kind} message`,
        )
      }
      this.#calls.shift()
      this.#release(MANIFEST_COST)
      let manifest: Manifest
      try {
        manifest = verifyManifest(call.contentId, response.manifest)
      } catch (err) {
        const error = new ManifestVerificationError(
          `the manifest ${this.peer} sent is not the one of ${call.contentId}: ${(err as Error).message}`,
          { cause: err },
        )
        if (call.feeds) call.feeds.failed = error
        call.reject(error)
        return true
      }
      if (call.feeds) feed(call.feeds, manifest)
      call.resolve(manifest)
      return true
    }
    const rangeEnd = call.rangeEnds[0]!
    if (response.kind === 'end') {
      if (call.next !== rangeEnd) {
        throw new BlobProtocolError(
          `${this.peer} ended a response at block ${call.next}, before block ${rangeEnd}`,
        )
      }
      const rangeStart = call.rangeStarts.shift()!
      call.rangeEnds.shift()
      this.#release((rangeEnd - rangeStart) * call.blockSize)
      if (call.rangeEnds.length === 0) {
        this.#calls.shift()
        if (call.failed) call.reject(call.failed)
        else call.resolve()
      }
      return true
    }
    if (response.kind !== 'block')
      throw new BlobProtocolError(`${this.peer} answered a blocks request with a manifest`)
    if (response.index !== call.next || call.next >= rangeEnd) {
      throw new BlobProtocolError(
        `${this.peer} sent block ${response.index} where block ${call.next} belonged`,
      )
    }
    call.next++
    if (call.failed) return true
    if (call.ready !== undefined) {
      // The manifest's own consumer (storing it) goes first, once.
      const ready = call.ready
      call.ready = undefined
      try {
        await ready
      } catch (err) {
        call.failed = toError(err, 'storing the manifest failed')
        return true
      }
    }
    if (call.manifest === undefined) {
      throw new BlobProtocolError(`${this.peer} sent blocks of ${call.contentId} before its manifest`)
    }
    if (!call.consumerVerifies && !verifyBlock(call.manifest, response.index, response.bytes)) {
      // A peer that sends a wrong block is not trusted with the rest of the session either.
      throw new BlockVerificationError(
        `block ${response.index} of ${call.contentId} from ${this.peer} does not match its hash`,
        response.index,
        call.contentId,
      )
    }
    try {
      await call.onBlock({ index: response.index, bytes: response.bytes })
    } catch (err) {
      // A consumer that verifies found a bad block (this one or an earlier one): as above.
      if (call.consumerVerifies && err instanceof BlockVerificationError) throw err
      call.failed = toError(err, 'the block consumer failed')
    }
    return true
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const call of this.#calls.splice(0)) call.reject(error)
    this.#wakeReader?.()
  }
}

/** A blocks call and its wire requests: small enough that the in-flight limit lets two of them overlap. */
function blocksCall(
  contentId: string,
  manifest: Manifest | undefined,
  blockSize: number,
  first: number,
  count: number,
  onBlock: (block: FetchedBlock) => Promise<void> | void,
): { call: BlocksCall; requests: Uint8Array[]; done: Promise<void> } {
  const requests: Uint8Array[] = []
  const rangeStarts: number[] = []
  const rangeEnds: number[] = []
  const perRequest = Math.max(
    1,
    Math.min(MAX_BLOCKS_PER_REQUEST, Math.floor(SESSION_IN_FLIGHT_BYTES / 2 / blockSize)),
  )
  for (let at = first; at < first + count; at += perRequest) {
    const n = Math.min(perRequest, first + count - at)
    requests.push(encodeRequest({ kind: 'blocks', contentId, first: at, count: n }))
    rangeStarts.push(at)
    rangeEnds.push(at + n)
  }
  let resolve!: () => void
  let reject!: (error: Error) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  const call: BlocksCall = {
    kind: 'blocks',
    contentId,
    manifest,
    blockSize,
    expectedSize: undefined,
    onManifest: undefined,
    ready: undefined,
    next: first,
    rangeStarts,
    rangeEnds,
    onBlock,
    failed: undefined,
    consumerVerifies: false,
    resolve,
    reject,
  }
  return { call, requests, done }
}

/**
 * Gives a manifestAndBlocks call its manifest. One that does not say what the blocks were asked
 * for on (the catalog's size was wrong) fails the call; its blocks are read and dropped.
 */
function feed(call: BlocksCall, manifest: Manifest): void {
  if (manifest.size !== call.expectedSize || manifest.blockSize !== call.blockSize) {
    call.failed = new BlobExpectationError(
      `the manifest of ${call.contentId} says ${manifest.size} bytes in blocks of ${manifest.blockSize}, ` +
        `not ${call.expectedSize} in blocks of ${call.blockSize}`,
    )
  } else call.manifest = manifest
  const onManifest = call.onManifest
  call.ready = Promise.resolve().then(() => onManifest?.(manifest))
  // Handled where it is awaited (before the first block); no block may come at all.
  call.ready.catch(() => {})
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
