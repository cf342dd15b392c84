import path from 'node:path'
import type { Connection, Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { BlockCache } from '../../blobs/index.ts'
import { AccessGater, enforceRevocations, Membership } from '../access/index.ts'
import { loadOrCreateApiToken } from '../control/api-token.ts'
import { removeNodeInfo, writeNodeInfo } from '../control/node-info.ts'
import type { NetworkConfig } from '../device/config.ts'
import { Device } from '../device/device.ts'
import { opsRoute } from '../http/ops-route.ts'
import { type HttpServerHandle, startHttpServer } from '../http/server.ts'
import { coverRoute, streamRoute } from '../http/stream-route.ts'
import { webAppRoute } from '../http/web-app-route.ts'
import type { Logger } from '../log.ts'
import { NodeBlobProvider } from '../media/blob-provider.ts'
import { LocalFiles } from '../media/local-file.ts'
import { createMedia, type Media } from '../media/media.ts'
import { type BlobExchange, blobExchange } from '../protocols/blob/index.ts'
import { type CatalogSync, catalogSync } from '../protocols/catalog-sync/index.ts'
import { InviteBook, type Pairing, pairing } from '../protocols/pairing/index.ts'
import {
  bestConnection,
  DirectUpgrader,
  isLibraryRelay,
  libraryRelays,
  onRelaysChange,
  type Reach,
  type RelayLink,
  reachOf,
  relayLink,
  setLibraryRelays,
  setLibraryStunServers,
  withRelays,
} from '../relay/index.ts'
import { scan } from '../scanner/scanner.ts'
import { watchLibrary } from '../scanner/watch.ts'
import { collectGarbageSoon } from './collect-garbage.ts'
import { createLibp2pNode } from './libp2p-node.ts'
import { Redialer } from './redial.ts'
import { transferHeap } from './transfer-heap.ts'

export interface NodeStartOptions {
  home: string
  log: Logger
  /** Overrides of the saved network settings (saved for the next start). */
  network?: Partial<NetworkConfig>
  /** Rename this device. */
  name?: string
  /** Scan and watch the library folders (default true). */
  watch?: boolean
  rescanEveryMs?: number
  /** Set the library's relays (a catalog setting every device follows); [] removes them. */
  relays?: string[]
}

type NodeServices = {
  catalogSync: CatalogSync
  pairing: Pairing
  blobExchange: BlobExchange
  relayLink: RelayLink
}

/**
 * A running Cloudless node: the device's data, its libp2p node with the library's protocols, the
 * local HTTP API, and the watcher that keeps the catalog in step with the library folders.
 */
export class CloudlessNode {
  readonly device: Device
  readonly libp2p: Libp2p<NodeServices>
  readonly membership: Membership
  readonly media: Media
  readonly http: HttpServerHandle
  readonly log: Logger
  readonly #stopping = new AbortController()
  readonly #redialer: Redialer
  readonly #upgrader: DirectUpgrader
  #watching: Promise<void> | undefined
  #stopped: Promise<void> | undefined

  #stopEnforcing: (() => void) | undefined
  #stopRelays: (() => void) | undefined
  /** When each device was last connected to this one (ms); in memory, for `cloudless devices`. */
  readonly #lastSeen = new Map<string, number>()

  private constructor(init: {
    device: Device
    libp2p: Libp2p<NodeServices>
    membership: Membership
    media: Media
    http: HttpServerHandle
    log: Logger
  }) {
    this.device = init.device
    this.libp2p = init.libp2p
    this.membership = init.membership
    this.media = init.media
    this.http = init.http
    this.log = init.log
    this.#redialer = new Redialer(this.libp2p, () => this.#otherDevices(), this.log)
    this.#upgrader = new DirectUpgrader(this.libp2p, {
      isMember: (peerId) => this.membership.isMember(peerId),
      dialExact: (address, options) => this.libp2p.services.relayLink.dialExact(address, options),
      addressesOf: (peerId) => this.#otherDevices().find((d) => d.peerId === peerId)?.addresses ?? [],
      // A browser has no addresses of its own: it starts the upgrade itself (src/web/peer).
      initiates: (peerId) =>
        this.libp2p.peerId.toString() < peerId &&
        (this.#otherDevices().find((d) => d.peerId === peerId)?.addresses ?? []).length > 0,
      log: this.log,
    })
  }

  static async start(options: NodeStartOptions): Promise<CloudlessNode> {
    const { log } = options
    const device = await Device.open(options.home)
    try {
      const network = { ...device.config.network, ...options.network }
      if (JSON.stringify(network) !== JSON.stringify(device.config.network)) {
        await device.saveConfig({ ...device.config, network })
      }
      if (options.name !== undefined) await device.rename(options.name)
      const { catalog } = device
      if (options.relays !== undefined) setLibraryRelays(catalog.doc, options.relays)
      // So that the library's browsers use them too (they have no settings of their own): the saved
      // ones, and whatever this start was given, `--stun default` (none) included, which clears them.
      if (options.network?.stunServers !== undefined || device.config.network.stunServers.length > 0)
        setLibraryStunServers(catalog.doc, device.config.network.stunServers)
      const membership = new Membership({ catalog, selfId: device.deviceId })
      const invites = new InviteBook()
      const gater = new AccessGater({ membership, invites, dialWebRtcDirect: false })
      const cache = await BlockCache.open(device.layout.cache, { limitBytes: device.config.cacheLimitBytes })
      const local = new LocalFiles(device)
      const libp2p = await createLibp2pNode({
        privateKey: device.privateKey,
        network: device.config.network,
        connectionGater: withRelays(gater, { isRelay: (peerId) => isLibraryRelay(catalog.doc, peerId) }),
        webrtcCertificateFile: path.join(device.layout.home, 'webrtc-direct.json'),
        services: {
          relayLink: relayLink({
            relays: () => libraryRelays(catalog.doc),
            members: () =>
              catalog.libraryId === undefined
                ? undefined
                : {
                    libraryId: catalog.libraryId,
                    members: membership.members().map((m) => m.deviceId),
                    revoked: membership
                      .devices()
                      .filter((m) => m.revoked === true)
                      .map((m) => m.deviceId),
                  },
            onState: (relay) => {
              const line = `relay ${relay.address}: ${relay.state}${relay.error === null ? '' : ` (${relay.error})`}`
              if (relay.state === 'reserved' || relay.state === 'connecting') log.info(line)
              else log.warn(line)
            },
          }),
          catalogSync: catalogSync({
            doc: catalog.doc,
            // Read per stream: joining another library changes it.
            libraryId: () => catalog.libraryId!,
            isAllowed: (peerId) => membership.isMember(peerId),
          }),
          pairing: pairing({
            catalog,
            membership,
            invites,
            gater,
            deviceName: () => device.config.deviceName,
            catalogState: () => device.store.storedState(),
            applyCatalogState: (parts, origin) => device.store.applyReceived(parts, origin),
            isRelay: (peerId) => isLibraryRelay(catalog.doc, peerId),
          }),
          blobExchange: blobExchange({
            isMember: (peerId) => membership.isMember(peerId),
            provider: new NodeBlobProvider(local, cache, device.covers),
            onStreamOpen: () => transferHeap.begin(),
          }),
        },
      })
      const typed = libp2p as unknown as Libp2p<NodeServices>
      const media = createMedia({
        catalog,
        selfId: device.deviceId,
        membership,
        libp2p: typed,
        cache,
        local,
        log: (line) => log.warn(line),
      })
      const token = await loadOrCreateApiToken(device.layout.apiToken)
      let node: CloudlessNode | undefined
      const http = await startHttpServer({
        host: device.config.network.httpHost,
        port: device.config.network.httpPort,
        token,
        routes: [
          opsRoute(() => ({ device, node })),
          streamRoute({ streamer: () => media.streamer, catalog }),
          coverRoute({ covers: device.covers, catalog }),
          webAppRoute(),
        ],
        log: (line) => log.warn(line),
      })
      node = new CloudlessNode({
        device,
        libp2p: typed,
        membership,
        media,
        http,
        log,
      })
      await node.#afterStart(token, options)
      return node
    } catch (error) {
      await device.close().catch(() => {})
      throw error
    }
  }

  async #afterStart(token: string, options: NodeStartOptions): Promise<void> {
    const { device, libp2p, log } = this
    this.#publishAddresses()
    // A new pairing: the connection predates the device list entry, so start syncing explicitly.
    libp2p.services.pairing.addEventListener('paired', (event) => {
      const { peerId, name, role } = event.detail
      // The inviter wrote our record without addresses, concurrently with ours: write them again,
      // causally after, so that every device can redial us.
      this.#publishAddresses()
      log.info(
        role === 'inviter'
          ? `${name} (${peerId}) joined the library`
          : `joined the library of ${name} (${peerId})`,
      )
      this.#redialer.reset()
      // The joiner's join op collects once the catalog is stored; the inviter, here.
      if (role !== 'joiner') collectGarbageSoon()
      // The joiner opens the first sync stream (both opening at once would replace each other's).
      if (role !== 'joiner') return
      libp2p.services.catalogSync
        .syncWith(peerId, { signal: AbortSignal.timeout(60_000) })
        .catch((error: Error) => {
          log.warn(`first sync with ${name} failed: ${error.message}; it will be retried`)
        })
    })
    this.#stopEnforcing = enforceRevocations(libp2p, this.membership)
    this.membership.addEventListener('self-revoked', () => {
      log.warn('another device removed this device from the library; it no longer syncs')
    })
    this.#keepPinsFetched()
    // Addresses the other devices published go into the peer store, so that any dial by peer id
    // (a blob fetch from a device we are not connected to yet) knows where to go.
    const rememberAddresses = () => {
      for (const { peerId, addresses } of this.#otherDevices()) {
        const multiaddrs = addresses.flatMap((a) => {
          try {
            return [multiaddr(a)]
          } catch {
            return []
          }
        })
        if (multiaddrs.length === 0) continue
        libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs }).catch(() => {})
      }
    }
    rememberAddresses()
    device.catalog.devices.observe(rememberAddresses)
    libp2p.addEventListener('connection:open', (event) => this.#onConnection(event.detail, 'open'))
    libp2p.addEventListener('connection:close', (event) => this.#onConnection(event.detail, 'close'))
    this.#redialer.start()
    this.#upgrader.start()
    // Our addresses change when a relay reservation comes or goes: publish them for the others.
    libp2p.addEventListener('self:peer:update', () => this.#publishAddresses())
    const checkRelays = () => libp2p.services.relayLink.check()
    this.#stopRelays = onRelaysChange(device.catalog.doc, checkRelays)
    this.membership.addEventListener('change', checkRelays)
    await writeNodeInfo(device.layout.nodeInfo, {
      pid: process.pid,
      httpUrl: this.http.url,
      token,
      peerId: device.deviceId,
      startedAt: Date.now(),
    })
    log.info(`device ${device.config.deviceName} (${device.deviceId})`)
    for (const addr of libp2p.getMultiaddrs()) log.info(`listening on ${addr}`)
    log.info(`web app and HTTP API on ${this.http.url}`)
    if (options.watch !== false && device.config.roots.length > 0) {
      this.#watching = this.#scanAndWatch(options.rescanEveryMs)
    }
    // Loading the catalog left its decoded updates behind (tens of MB for 100k tracks).
    transferHeap.atRest()
    collectGarbageSoon(500)
  }

  async #scanAndWatch(rescanEveryMs?: number): Promise<void> {
    const { device, log } = this
    const roots = device.config.roots
    const signal = this.#stopping.signal
    try {
      const report = await scan(device, roots, { signal })
      log.info(
        `scanned ${report.files} files: ${report.added} added, ${report.updated} updated, ${report.removed} removed, ${report.skipped.length} skipped`,
      )
      collectGarbageSoon()
      await watchLibrary(device, roots, {
        signal,
        rescanEveryMs,
        onScan: (r) => {
          if (r.read > 0 || r.removed > 0)
            log.info(`library changed: ${r.added} added, ${r.updated} updated, ${r.removed} removed`)
        },
        onError: (error) => log.warn(`watching the library: ${error.message}`),
      })
    } catch (error) {
      if (!signal.aborted) log.error(`scanning the library failed: ${(error as Error).message}`)
    }
  }

  /**
   * Pinned blobs (and, on a mirror, every track) are fetched in the background: at start, when
   * the library changes, and when a device comes online that may hold what is still missing.
   */
  #keepPinsFetched(): void {
    const { pins } = this.media
    let timer: NodeJS.Timeout | undefined
    const later = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        if (this.#stopping.signal.aborted) return
        const work = this.device.config.mirror ? pins.mirrorAll() : pins.resume()
        work.catch((error: Error) => this.log.warn(`fetching pinned tracks: ${error.message}`))
      }, 1000)
    }
    // And every half minute, so that a fetch that failed (every holder offline) is tried again.
    const retry = setInterval(later, 30_000)
    this.#stopping.signal.addEventListener('abort', () => {
      clearTimeout(timer)
      clearInterval(retry)
    })
    later()
    this.device.catalog.files.observe(later)
    this.libp2p.addEventListener('connection:open', later)
  }

  /** Other devices of the library and the addresses they published, for the redialer. */
  #otherDevices(): Array<{ peerId: string; addresses: string[] }> {
    const out: Array<{ peerId: string; addresses: string[] }> = []
    for (const [peerId, record] of this.device.catalog.devices) {
      if (peerId === this.device.deviceId || record.revoked) continue
      // WebRTC through a relay is the DirectUpgrader's job: a redial that times out in the middle
      // of its ICE exchange would leave the other side with a connection that dies soon after.
      const addresses = (record.addresses ?? []).filter((a) => !a.includes('/p2p-circuit/webrtc'))
      out.push({ peerId, addresses })
    }
    return out
  }

  /** Writes our listen addresses into our device record, so other devices can redial us. */
  #publishAddresses(): void {
    const { catalog, deviceId } = this.device
    const addresses = this.libp2p.getMultiaddrs().map(String)
    const record = catalog.devices.get(deviceId)
    if (record === undefined) return
    if (JSON.stringify(record.addresses ?? []) === JSON.stringify(addresses)) return
    catalog.putDevice(deviceId, { ...record, addresses })
  }

  /** The open connection to a device, if any (the best one): its address, who dialled, how it goes. */
  connectionTo(deviceId: string): { address: string; direction: string; reach: Reach } | undefined {
    const connection = bestConnection(
      this.libp2p.getConnections().filter((c) => c.remotePeer.toString() === deviceId),
    )
    if (connection === undefined) return undefined
    return {
      address: connection.remoteAddr.toString(),
      direction: connection.direction,
      reach: reachOf(connection),
    }
  }

  /** The library's relays and how each is doing. */
  relays() {
    return this.libp2p.services.relayLink.status()
  }

  lastSeen(deviceId: string): number | undefined {
    return this.connectionTo(deviceId) === undefined ? this.#lastSeen.get(deviceId) : Date.now()
  }

  #onConnection(connection: Connection, what: 'open' | 'close'): void {
    const peer = connection.remotePeer.toString()
    this.#lastSeen.set(peer, Date.now())
    const record = this.device.catalog.devices.get(peer)
    if (record === undefined) return
    this.log.debug(`connection ${what} with ${record.name} (${peer}) over ${connection.remoteAddr}`)
  }

  /** What `cloudless start --json` prints: how to reach this node. */
  describe() {
    return {
      peerId: this.device.deviceId,
      name: this.device.config.deviceName,
      libraryId: this.device.catalog.libraryId,
      addresses: this.libp2p.getMultiaddrs().map(String),
      http: this.http.url,
      pid: process.pid,
    }
  }

  /** Stops everything and flushes the catalog to disk. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  async #stop(): Promise<void> {
    this.log.info('stopping')
    this.#stopping.abort()
    this.#redialer.stop()
    this.#upgrader.stop()
    this.#stopRelays?.()
    this.#stopEnforcing?.()
    this.media.pins.stop()
    await this.#watching
    await this.http.close()
    // Everything changed so far goes to disk before the network stops: whatever happens while
    // libp2p shuts down (a native transport can take the process with it), the catalog is safe.
    await this.device.store.flush()
    this.log.debug('catalog flushed; stopping libp2p')
    await this.libp2p.stop()
    this.log.debug('libp2p stopped')
    await stopWebRtcThreads()
    await this.media.cache.close()
    await removeNodeInfo(this.device.layout.nodeInfo)
    await this.device.close()
    this.log.info('stopped; the catalog is on disk')
  }
}

/**
 * Joins the threads of libdatachannel (under @libp2p/webrtc) once every peer connection is closed.
 * Without it the process sometimes aborts on its way out (SIGABRT in a mutex assertion or
 * "std::system_error: Invalid argument"), when static destructors run while those threads live.
 */
async function stopWebRtcThreads(): Promise<void> {
  try {
    const datachannel = (await import('node-datachannel')) as { cleanup?: () => void }
    datachannel.cleanup?.()
  } catch {
    // Not installed or already cleaned up: nothing to join.
  }
}
