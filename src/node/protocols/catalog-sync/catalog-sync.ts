import type { AbortOptions, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_FRAME_OVERHEAD_BYTES,
  SyncSession,
} from '../../../crdt/sync/index.ts'
import {
  CATALOG_SYNC_PROTOCOL,
  CLOSE_TIMEOUT_MS,
  KEEPALIVE_INTERVAL_MS,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_QUEUED_BYTES,
  MAX_STREAM_MESSAGE_BYTES,
  OPEN_STREAM_TIMEOUT_MS,
  REOPEN_BASE_DELAY_MS,
  REOPEN_MAX_DELAY_MS,
} from './constants.ts'
import { PeerNotAllowedError, ServiceStoppedError, StreamReplacedError, SyncLostError } from './errors.ts'
import type { CatalogSync, CatalogSyncComponents, CatalogSyncEvents, CatalogSyncInit } from './index.ts'
import { PeerLink } from './peer-link.ts'

/** How long syncWith waits for another stream after losing one (see onLost). */
const LOST_STREAM_GRACE_MS = 2_000

interface ReopenState {
  attempts: number
  timer?: NodeJS.Timeout
}

/**
 * Keeps the catalog Y.Doc in sync with every allowed peer we are connected to, over one
 * long-lived stream per peer.
 *
 * Who opens: when a connection to a peer that speaks the protocol is identified (registrar
 * topology), the side whose peer id string sorts first opens the stream, so two nodes that dial
 * each other still get one stream. That side also reopens a lost stream, with backoff, for as long
 * as a connection lives. `syncWith()` opens one from either side; if two streams meet, both sides
 * keep the same one (see #adopt).
 */
export class CatalogSyncService
  extends TypedEventEmitter<CatalogSyncEvents>
  implements CatalogSync, Startable
{
  readonly protocol = CATALOG_SYNC_PROTOCOL
  readonly #components: CatalogSyncComponents
  readonly #init: CatalogSyncInit
  readonly #log: Logger
  readonly #localPeer: string
  readonly #links = new Map<string, PeerLink>()
  readonly #opening = new Map<string, AbortController>()
  readonly #reopen = new Map<string, ReopenState>()
  #lifetime = new AbortController()
  #topologyId: string | undefined
  #started = false
  #listening = false

  constructor(components: CatalogSyncComponents, init: CatalogSyncInit) {
    super()
    this.#components = components
    this.#init = init
    this.#log = init.log ?? components.logger.forComponent('cloudless:catalog-sync')
    this.#localPeer = components.peerId.toString()
    const chunkBytes = init.chunkBytes ?? DEFAULT_CHUNK_BYTES
    if (chunkBytes < 1 || chunkBytes + MAX_FRAME_OVERHEAD_BYTES > MAX_STREAM_MESSAGE_BYTES) {
      throw new RangeError(`chunkBytes must be 1-${MAX_STREAM_MESSAGE_BYTES - MAX_FRAME_OVERHEAD_BYTES}`)
    }
  }

  readonly [Symbol.toStringTag] = '@cloudless/catalog-sync'

  isStarted(): boolean {
    return this.#started
  }

  async start(options?: AbortOptions): Promise<void> {
    if (this.#started) return
    this.#lifetime = new AbortController()
    // Started before registering, so a stream arriving during registration is served.
    this.#started = true
    this.#init.awareness?.on('update', this.#onAwarenessUpdate)
    const { registrar } = this.#components
    await registrar.handle(this.protocol, this.#onStream, {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      // Devices away from home meet through our relay, which lifts the 2 min / 128 KiB limits.
      runOnLimitedConnection: true,
      ...options,
    })
    this.#topologyId = await registrar.register(
      this.protocol,
      {
        onConnect: (peerId) => this.#onConnect(peerId),
        onDisconnect: (peerId) => this.#onDisconnect(peerId),
        notifyOnLimitedConnection: true,
      },
      options,
    )
  }

  async stop(options?: AbortOptions): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#lifetime.abort(new ServiceStoppedError('catalog sync stopped'))
    const { registrar } = this.#components
    if (this.#topologyId !== undefined) registrar.unregister(this.#topologyId)
    this.#topologyId = undefined
    this.#init.awareness?.off('update', this.#onAwarenessUpdate)
    for (const state of this.#reopen.values()) clearTimeout(state.timer)
    this.#reopen.clear()
    for (const controller of this.#opening.values())
      controller.abort(new ServiceStoppedError('catalog sync stopped'))
    this.#opening.clear()
    const links = [...this.#links.values()]
    this.#links.clear()
    this.#listenWhileLinked()
    await Promise.all(links.map((link) => link.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })))
    await registrar.unhandle(this.protocol, options)
  }

  isSyncedWith(peerId: PeerId | string): boolean {
    return this.#links.get(peerId.toString())?.synced === true
  }

  getPeers(): string[] {
    return [...this.#links.keys()]
  }

  async syncedWith(peerId: PeerId | string, options: AbortOptions = {}): Promise<void> {
    const key = peerId.toString()
    options.signal?.throwIfAborted()
    if (this.isSyncedWith(key)) return
    if (!this.#started) throw new ServiceStoppedError('catalog sync is not running')
    const lifetime = this.#lifetime.signal
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        this.removeEventListener('peer:synced', onSynced)
        options.signal?.removeEventListener('abort', onAbort)
        lifetime.removeEventListener('abort', onStop)
      }
      const onSynced = (evt: CatalogSyncEvents['peer:synced']) => {
        if (evt.detail.peerId !== key) return
        cleanup()
        resolve()
      }
      const onAbort = () => {
        cleanup()
        reject(options.signal?.reason)
      }
      const onStop = () => {
        cleanup()
        reject(lifetime.reason)
      }
      this.addEventListener('peer:synced', onSynced)
      options.signal?.addEventListener('abort', onAbort)
      lifetime.addEventListener('abort', onStop)
    })
  }

  async syncWith(peerId: PeerId | string, options: AbortOptions = {}): Promise<void> {
    const key = peerId.toString()
    options.signal?.throwIfAborted()
    if (!this.#started) throw new ServiceStoppedError('catalog sync is not running')
    if (!this.#isAllowed(key)) throw new PeerNotAllowedError(`${key} is not allowed to sync this library`)
    if (!this.#links.has(key) && !this.#opening.has(key)) {
      const connection =
        this.#openConnection(key) ??
        (await this.#components.connectionManager.openConnection(peerIdFromString(key), options))
      if (!this.#links.has(key) && !this.#opening.has(key)) {
        const link = await this.#openStream(key, connection, options)
        // The peer may refuse the stream at once: then it closed before we could listen for that.
        // (A link replaced by a better stream is closed too, but then a current link exists.)
        if (link.closed && !this.#links.has(key)) {
          throw new SyncLostError(`the sync stream with ${key} ended before the exchange completed`)
        }
      }
    }
    if (this.isSyncedWith(key)) return
    const lifetime = this.#lifetime.signal
    await new Promise<void>((resolve, reject) => {
      let grace: ReturnType<typeof setTimeout> | undefined
      const cleanup = () => {
        clearTimeout(grace)
        this.removeEventListener('peer:synced', onSynced)
        this.removeEventListener('peer:sync-lost', onLost)
        options.signal?.removeEventListener('abort', onAbort)
        lifetime.removeEventListener('abort', onAbort)
      }
      const onSynced = (evt: CatalogSyncEvents['peer:synced']) => {
        if (evt.detail.peerId !== key) return
        cleanup()
        resolve()
      }
      // When both sides open at once, one side resets the stream the other one holds, and a
      // replacement follows: a lost stream fails the wait only if no other stream syncs soon.
      const onLost = (evt: CatalogSyncEvents['peer:sync-lost']) => {
        if (evt.detail.peerId !== key || grace !== undefined) return
        grace = setTimeout(() => {
          cleanup()
          reject(
            new SyncLostError(`the sync stream with ${key} ended before the exchange completed`, {
              cause: evt.detail.error,
            }),
          )
        }, LOST_STREAM_GRACE_MS)
      }
      const onAbort = () => {
        cleanup()
        reject(options.signal?.aborted === true ? options.signal.reason : lifetime.reason)
      }
      this.addEventListener('peer:synced', onSynced)
      this.addEventListener('peer:sync-lost', onLost)
      options.signal?.addEventListener('abort', onAbort)
      lifetime.addEventListener('abort', onAbort)
    })
  }

  #isAllowed(peer: string): boolean {
    try {
      return this.#init.isAllowed(peer)
    } catch (err) {
      this.#log.error('isAllowed(%s) threw, refusing the peer: %s', peer, (err as Error).message)
      return false
    }
  }

  /** One side opens, so both dialling each other still yields one stream. */
  #weOpenTo(peer: string): boolean {
    return this.#localPeer < peer
  }

  #onConnect(peerId: PeerId): void {
    const peer = peerId.toString()
    if (!this.#started || !this.#weOpenTo(peer) || !this.#isAllowed(peer)) return
    // A fresh connection: forget the backoff of earlier failures.
    const state = this.#reopen.get(peer)
    clearTimeout(state?.timer)
    this.#reopen.delete(peer)
    void this.#openLink(peer)
  }

  #onDisconnect(peerId: PeerId): void {
    const peer = peerId.toString()
    clearTimeout(this.#reopen.get(peer)?.timer)
    this.#reopen.delete(peer)
    this.#opening.get(peer)?.abort(new Error('peer disconnected'))
  }

  #openConnection(peer: string): Connection | undefined {
    const connections = this.#components.connectionManager.getConnections(peerIdFromString(peer))
    return connections.find((connection) => connection.status === 'open' && connection.limits === undefined)
  }

  /** Opens a stream for a background (re)connect: failures are logged and retried, not thrown. */
  async #openLink(peer: string): Promise<void> {
    if (!this.#started || this.#links.has(peer) || this.#opening.has(peer) || !this.#isAllowed(peer)) return
    const connection = this.#openConnection(peer)
    if (connection === undefined) return
    try {
      await this.#openStream(peer, connection)
    } catch (err) {
      if (!this.#started || (err as Error).name === 'AbortError') return
      this.#log.error('cannot open a sync stream to %s: %s', peer, (err as Error).message)
      // A peer that does not speak the protocol will not learn it by being asked again.
      if ((err as Error).name !== 'UnsupportedProtocolError') this.#scheduleReopen(peer, false)
    }
  }

  async #openStream(peer: string, connection: Connection, options: AbortOptions = {}): Promise<PeerLink> {
    const controller = new AbortController()
    this.#opening.set(peer, controller)
    try {
      const signal = AbortSignal.any([
        controller.signal,
        this.#lifetime.signal,
        AbortSignal.timeout(OPEN_STREAM_TIMEOUT_MS),
        ...(options.signal === undefined ? [] : [options.signal]),
      ])
      // Also through a relay (devices away from home).
      const stream = await connection.newStream(this.protocol, { signal, runOnLimitedConnection: true })
      if (!this.#started) {
        stream.abort(new ServiceStoppedError('catalog sync stopped'))
        throw new ServiceStoppedError('catalog sync stopped')
      }
      return this.#adopt(stream, peer)
    } finally {
      if (this.#opening.get(peer) === controller) this.#opening.delete(peer)
    }
  }

  readonly #onStream = (stream: Stream, connection: Connection): void => {
    const peer = connection.remotePeer.toString()
    if (!this.#started) {
      stream.abort(new ServiceStoppedError('catalog sync stopped'))
      return
    }
    if (!this.#isAllowed(peer)) {
      this.#log('refusing a sync stream from %s: not on the device list', peer)
      stream.abort(new PeerNotAllowedError(`${peer} is not allowed to sync this library`))
      return
    }
    this.#adopt(stream, peer)
  }

  /**
   * Starts a link on `stream`. If one already exists, both sides keep the same one: a stream
   * opened by the designated opener beats one opened by the other side; otherwise the newest wins
   * (the peer reopened before we noticed the old stream die).
   */
  #adopt(stream: Stream, peer: string): PeerLink {
    const previous = this.#links.get(peer)
    const preferred = this.#weOpenTo(peer) ? 'outbound' : 'inbound'
    if (previous !== undefined && previous.stream.direction === preferred && stream.direction !== preferred) {
      this.#log('keeping the existing sync stream with %s, refusing a second one', peer)
      stream.abort(new StreamReplacedError(`a sync stream with ${peer} already exists`))
      return previous
    }
    const chunkBytes = this.#init.chunkBytes ?? DEFAULT_CHUNK_BYTES
    const session = new SyncSession({
      doc: this.#init.doc,
      libraryId: typeof this.#init.libraryId === 'function' ? this.#init.libraryId() : this.#init.libraryId,
      origin: peer,
      awareness: this.#init.awareness,
      chunkBytes,
      maxMessageBytes: this.#init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    })
    const link = new PeerLink({
      peerId: peer,
      stream,
      session,
      log: this.#log,
      maxStreamMessageBytes: MAX_STREAM_MESSAGE_BYTES,
      maxQueuedBytes: this.#init.maxQueuedBytes ?? MAX_QUEUED_BYTES,
      keepaliveIntervalMs: this.#init.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
      onSynced: this.#onLinkSynced,
      onClosed: this.#onLinkClosed,
    })
    // Register the new link before aborting the old one, whose close handler checks which is current.
    this.#links.set(peer, link)
    this.#listenWhileLinked()
    previous?.abort(new StreamReplacedError(`a newer sync stream with ${peer} replaced this one`))
    this.#log('sync stream with %s open (%s)', peer, stream.direction)
    link.start()
    return link
  }

  readonly #onLinkSynced = (link: PeerLink): void => {
    if (this.#links.get(link.peerId) !== link) return
    this.#reopen.delete(link.peerId)
    this.#log('synced with %s', link.peerId)
    this.safeDispatchEvent('peer:synced', { detail: { peerId: link.peerId } })
  }

  readonly #onLinkClosed = (link: PeerLink, error: Error | undefined): void => {
    if (this.#links.get(link.peerId) !== link) return
    this.#links.delete(link.peerId)
    this.#listenWhileLinked()
    this.safeDispatchEvent('peer:sync-lost', { detail: { peerId: link.peerId, error } })
    if (this.#started && this.#weOpenTo(link.peerId)) this.#scheduleReopen(link.peerId, link.synced)
  }

  #scheduleReopen(peer: string, lastLinkSynced: boolean): void {
    const state = this.#reopen.get(peer) ?? { attempts: 0 }
    if (lastLinkSynced) state.attempts = 0
    if (state.timer !== undefined) return
    if (!this.#started || !this.#isAllowed(peer) || this.#openConnection(peer) === undefined) {
      this.#reopen.delete(peer)
      return
    }
    const delay = Math.min(REOPEN_BASE_DELAY_MS * 2 ** state.attempts, REOPEN_MAX_DELAY_MS)
    state.attempts++
    state.timer = setTimeout(() => {
      state.timer = undefined
      void this.#openLink(peer)
    }, delay)
    state.timer.unref?.() // a number in browsers
    this.#reopen.set(peer, state)
  }

  /**
   * Listens to the document's updates only while some peer is linked: with no listener at all, Yjs
   * does not encode an update per transaction, and a device joining a library (no peers yet) then
   * applies a whole catalog without encoding it again (see LevelCatalogStore.applyReceived). A link
   * exchanges the whole state when it starts, so nothing made before it is missed.
   */
  #listenWhileLinked(): void {
    const listen = this.#started && this.#links.size > 0
    if (listen === this.#listening) return
    this.#listening = listen
    if (listen) this.#init.doc.on('update', this.#onDocUpdate)
    else this.#init.doc.off('update', this.#onDocUpdate)
  }

  readonly #onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Every link frames an update identically (same library, same chunk size): encode it once.
    let frames: Uint8Array[] | undefined
    for (const link of this.#links.values()) {
      if (link.peerId === origin) continue
      frames ??= link.session.encodeUpdate(update)
      link.send(frames)
    }
  }

  readonly #onAwarenessUpdate = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const clients = [...changes.added, ...changes.updated, ...changes.removed]
    let frames: Uint8Array[] | undefined
    for (const link of this.#links.values()) {
      if (link.peerId === origin) continue
      frames ??= link.session.encodeAwareness(clients)
      link.send(frames)
    }
  }
}
