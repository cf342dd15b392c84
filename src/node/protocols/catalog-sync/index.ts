/**
 * Catalog sync: keeps the library's Y.Doc in sync with every allowed, connected device over
 * `/cloudless/catalog-sync/1.0.0` (ARCHITECTURE.md, decision 5). A libp2p service: add it as
 * `services: { catalogSync: catalogSync({ doc, libraryId, isAllowed }) }`. It needs the identify
 * service, whose results tell the registrar topology which peers speak the protocol.
 */
import type { AbortOptions, ComponentLogger, Logger, PeerId, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { CatalogSyncService } from './catalog-sync.ts'

export interface CatalogSyncInit {
  /** The catalog document. Updates from a peer are applied with that peer's id string as transaction origin. */
  doc: Y.Doc
  /** Every frame names its library; frames for another library are refused. */
  libraryId: string | (() => string)
  /** Whether a device may sync this library (its peer id string). Asked when a stream opens. */
  isAllowed(peerId: string): boolean
  /** Also share awareness (presence) states. */
  awareness?: Awareness
  log?: Logger
  /** Payload bytes per frame when a message is split (default 1 MiB). */
  chunkBytes?: number
  /** Largest reassembled message accepted from a peer (default 512 MiB). */
  maxMessageBytes?: number
  /** Encoded bytes allowed to wait for one slow peer before its stream is aborted (default 640 MiB). */
  maxQueuedBytes?: number
  /** Keepalive period on idle streams, in ms; 0 turns it off (default 45 s). */
  keepaliveIntervalMs?: number
}

export interface CatalogSyncComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  peerId: PeerId
  logger: ComponentLogger
}

export interface PeerSyncedDetail {
  peerId: string
}

export interface PeerSyncLostDetail {
  peerId: string
  /** Why the stream ended; undefined when it was closed gracefully. */
  error?: Error
}

export interface CatalogSyncEvents {
  /** The initial exchange with a peer completed: each side has applied the other's state. */
  'peer:synced': CustomEvent<PeerSyncedDetail>
  /** The sync stream with a peer ended (it may be reopened). */
  'peer:sync-lost': CustomEvent<PeerSyncLostDetail>
}

export interface CatalogSync extends TypedEventTarget<CatalogSyncEvents> {
  readonly protocol: string
  /** Resolves once the initial exchange with `peerId` is done (at once if it already is). Rejects on abort or stop. */
  syncedWith(peerId: PeerId | string, options?: AbortOptions): Promise<void>
  /**
   * Syncs with `peerId` now: dials it if needed and opens a stream whichever side would normally
   * open one, e.g. right after pairing, when the connection predates the device-list entry.
   * Rejects with PeerNotAllowedError, SyncLostError if the stream ends before the exchange
   * completes, or the signal's reason.
   */
  syncWith(peerId: PeerId | string, options?: AbortOptions): Promise<void>
  isSyncedWith(peerId: PeerId | string): boolean
  /** Peers with an open sync stream. */
  getPeers(): string[]
}

export function catalogSync(init: CatalogSyncInit): (components: CatalogSyncComponents) => CatalogSync {
  return (components) => new CatalogSyncService(components, init)
}

export { CATALOG_SYNC_PROTOCOL } from './constants.ts'
export {
  PeerNotAllowedError,
  SendQueueOverflowError,
  ServiceStoppedError,
  StreamReplacedError,
} from './errors.ts'
