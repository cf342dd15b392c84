/**
 * Blob exchange: any device fetches a blob's manifest and blocks from whichever library device
 * holds it, over `/cloudless/blob/1.0.0` (ARCHITECTURE.md, decisions 2, 3 and 6; the messages are
 * in src/blobs/wire.ts, the flow in PROTOCOL.md). Every block is verified against the manifest,
 * and the manifest against the content ID, before the caller sees it.
 *
 * A libp2p service: add it as
 * `services: { blobs: blobExchange({ isMember: (id) => membership.isMember(id), provider }) }`.
 */
import type { AbortOptions, ComponentLogger, Logger, PeerId } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Manifest } from '../../../blobs/content-id.ts'
import { BlobExchangeService } from './blob-exchange.ts'

/** A blob this device can serve: its manifest, and its blocks read on demand. */
export interface ServedBlob {
  manifest: Manifest
  /**
   * The bytes of block `index` (all of it: the last block may be shorter than the block size).
   * Throws an error named 'BlobChangedError' when the owner's file changed since it was hashed.
   * `into`, when given, is a spare buffer of at least the block size the provider may read into
   * (and return a view of) instead of allocating one; the server recycles it once it has copied it.
   */
  readBlock(index: number, signal?: AbortSignal, into?: Uint8Array): Promise<Uint8Array>
  /** Called once when the server is done with the blob (after its last request on a stream). */
  close(): Promise<void>
}

/** Where the server finds blobs: the device's own files, its cache. */
export interface BlobProvider {
  /** The blob with this content ID, or undefined when this device does not hold it. */
  open(contentId: string, signal?: AbortSignal): Promise<ServedBlob | undefined>
}

export interface BlobExchangeInit {
  /** Whether a device belongs to the library (its peer id string). Only members are served. */
  isMember(peerId: string): boolean
  provider: BlobProvider
  /** Streams served at once for one peer; more hear `busy` (default 4). */
  maxConcurrentPerPeer?: number
  /** Streams served at once for all peers; more hear `busy` (default 16). */
  maxConcurrentTotal?: number
  log?: Logger
  /**
   * Called as each blob stream opens, served or fetched; the function it returns is called once
   * the stream has closed (the node raises V8's heap limits meanwhile: daemon/transfer-heap.ts).
   */
  onStreamOpen?: () => () => void
}

export interface BlobExchangeComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface FetchedBlock {
  index: number
  /** Verified against the manifest. */
  bytes: Uint8Array
}

/**
 * Many requests to one device on one stream, answered in order (pipelining): a mirror asks for
 * hundreds of small blobs without a new stream or a round trip for each. Calls may be made
 * concurrently; each sends its requests at once. See BlobSessionClient for the failure rules.
 */
export interface BlobSession {
  readonly peer: string
  /** Calls not answered completely yet. */
  readonly pending: number
  /** True once the session takes no more calls. */
  readonly closed: boolean
  /** The manifest of `contentId`, verified against it. */
  manifest(contentId: string): Promise<Manifest>
  /**
   * Blocks `first` to `first + count - 1`, in order, each verified against `manifest` before
   * `onBlock` gets it; the next block is read once onBlock has resolved. Resolves after the last
   * block; rejects with onBlock's error (the rest of the answer is dropped) or the session's.
   */
  blocks(
    contentId: string,
    manifest: Manifest,
    first: number,
    count: number,
    onBlock: (block: FetchedBlock) => Promise<void> | void,
  ): Promise<void>
  /**
   * The manifest, then blocks 0 to the last, asked for together: a small file costs no round trip
   * between its manifest and its blocks. `expected` (the catalog's size, the usual block size) says
   * which blocks to ask for before the manifest is known. `onManifest` gets the verified manifest and
   * is awaited before the first block reaches `onBlock`. Resolves with the manifest after the last
   * block; rejects as `manifest` and `blocks` do, and with BlobExpectationError (its blocks dropped)
   * when the manifest says another size or block size. With `consumerVerifies`, blocks reach
   * `onBlock` unverified: the consumer verifies them (the cache's write thread does, off the event
   * loop) and throws BlockVerificationError for a bad one, which ends the session as a bad block
   * found by the session does.
   */
  manifestAndBlocks(
    contentId: string,
    expected: { size: number; blockSize: number },
    onManifest: (manifest: Manifest) => Promise<void> | void,
    onBlock: (block: FetchedBlock) => Promise<void> | void,
    options?: { consumerVerifies?: boolean },
  ): Promise<Manifest>
  /** Takes no more calls; resolves when every call is answered and the stream is closed. */
  close(): Promise<void>
  /** Resets the stream: every waiting call fails with `reason`. */
  abort(reason: Error): void
}

export interface BlobExchange {
  readonly protocol: string
  /** Streams this device is serving right now. */
  readonly activeTransfers: number
  /**
   * The manifest of `contentId` from `peer`, verified against the content ID. Throws
   * BlobNotFoundError, BlobChangedError, PeerBusyError, ManifestVerificationError,
   * BlobProtocolError, BlobTimeoutError, BlobTransferError, BlobServiceStoppedError, or the
   * signal's reason.
   */
  fetchManifest(peer: PeerId | string, contentId: string, options?: AbortOptions): Promise<Manifest>
  /**
   * Blocks `first` to `first + count - 1` of `contentId` from `peer`, in order, each verified
   * against `manifest` (which the caller verified, e.g. with fetchManifest) before it is yielded.
   * A long range streams over one stream with requests pipelined. Throws RangeError at once for a
   * range outside the manifest; while iterating, BlockVerificationError and the errors of
   * fetchManifest. Aborting the signal, or leaving the loop early, resets the stream: the server
   * stops reading too.
   */
  fetchBlocks(
    peer: PeerId | string,
    contentId: string,
    manifest: Manifest,
    first: number,
    count: number,
    options?: AbortOptions,
  ): AsyncIterable<FetchedBlock>
  /**
   * A session with `peer` on a stream of its own (it counts against the peer's streams served at
   * once). Aborting the signal resets it. Calls fail with the errors of fetchBlocks, or
   * BlobSessionEndedError / BlobSessionClosedError.
   */
  openSession(peer: PeerId | string, options?: AbortOptions): Promise<BlobSession>
}

export function blobExchange(init: BlobExchangeInit): (components: BlobExchangeComponents) => BlobExchange {
  return (components) => new BlobExchangeService(components, init)
}

export { BLOB_PROTOCOL } from './constants.ts'
export {
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
