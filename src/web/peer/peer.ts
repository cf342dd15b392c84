import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Catalog } from '../../crdt/index.ts'
import { enforceRevocations, Membership } from '../../node/access/index.ts'
import { type BlobExchange, blobExchange } from '../../node/protocols/blob/index.ts'
import { type CatalogSync, catalogSync } from '../../node/protocols/catalog-sync/index.ts'
import { InviteBook, type JoinResult, type Pairing, pairing } from '../../node/protocols/pairing/index.ts'
import { DirectUpgrader } from '../../node/relay/direct-upgrade.ts'
import { bestConnection, type Reach, reachOf, roundTripMs } from '../../node/relay/reach.ts'
import { iceServer, isLibraryRelay, libraryStunServers } from '../../node/relay/relay-setting.ts'
import { withRelays } from '../../node/relay/with-relays.ts'
import { openCatalog } from './catalog-store.ts'
import { browserDeviceName } from './device-name.ts'
import { Dialer, type DialTarget } from './dialer.ts'
import { BrowserGater } from './gater.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { type BrowserTransport, createBrowserLibp2p } from './libp2p.ts'

export class NotPairedError extends Error {
  override name = 'NotPairedError'
}

/** Another device of the library as this page sees it now. */
export interface DeviceReach {
  deviceId: string
  name: string
  /** How the page reaches it now (null: no open connection). */
  reach: Reach | null
  /** The address of that connection. */
  address: string | null
  lastSeen: number | null
}

type Services = { catalogSync: CatalogSync; pairing: Pairing; blobExchange: BlobExchange }

export interface PeerStatus {
  deviceId: string
  deviceName: string
  paired: boolean
  /** Devices of the library with an open connection to this page. */
  connected: string[]
  /** Devices whose catalog this page has synced with since it connected. */
  synced: string[]
  /** The addresses of the open connections to them (which transport is in use). */
  addresses: string[]
}

export interface WebPeerOptions {
  transports?: readonly BrowserTransport[]
}

/**
 * This browser as a device of the library: its identity and catalog in IndexedDB, a libp2p node
 * running the same protocols as the Node devices (pairing, catalog sync, blob exchange), and a
 * dialer that keeps it connected to the devices. Dispatches 'status' when anything of
 * PeerStatus changes, and 'catalog' when the catalog changes.
 */
export class WebPeer extends EventTarget {
  readonly catalog: Catalog
  readonly membership: Membership
  readonly libp2p: Libp2p<Services>
  readonly deviceName: string
  readonly #dialer: Dialer
  #upgrader: DirectUpgrader | undefined
  #stopEnforcing: (() => void) | undefined

  private constructor(catalog: Catalog, membership: Membership, libp2p: Libp2p<Services>, name: string) {
    super()
    this.catalog = catalog
    this.membership = membership
    this.libp2p = libp2p
    this.deviceName = name
    this.#dialer = new Dialer(libp2p, () => this.#otherDevices())
  }

  static async start(options: WebPeerOptions = {}): Promise<WebPeer> {
    const [privateKey, { catalog }] = await Promise.all([loadOrCreateIdentity(), openCatalog()])
    const selfId = peerIdFromPrivateKey(privateKey).toString()
    const membership = new Membership({ catalog, selfId })
    // A page makes no invites; the book stays empty, so the gater admits members only.
    const invites = new InviteBook()
    const gater = new BrowserGater({ membership, invites })
    const name = browserDeviceName()
    const stun = libraryStunServers(catalog.doc)
    const libp2p = await createBrowserLibp2p({
      privateKey,
      ...(options.transports === undefined ? {} : { transports: options.transports }),
      ...(stun.length === 0 ? {} : { iceServers: stun.map((url) => iceServer(url)) }),
      // The library's relays (a catalog setting) are let through too: away from home the page
      // reaches the devices through them.
      connectionGater: withRelays(gater, { isRelay: (peerId) => isLibraryRelay(catalog.doc, peerId) }),
      services: {
        catalogSync: catalogSync({
          doc: catalog.doc,
          libraryId: () => catalog.libraryId ?? '',
          isAllowed: (peerId) => membership.isMember(peerId),
        }),
        pairing: pairing({
          catalog,
          membership,
          invites,
          gater,
          deviceName: name,
          inviteAddresses: () => [],
          isRelay: (peerId) => isLibraryRelay(catalog.doc, peerId),
        }),
        blobExchange: blobExchange({
          isMember: (peerId) => membership.isMember(peerId),
          // Serving blocks from this browser's cache comes later; it holds no files of its own.
          provider: { open: async () => undefined },
        }),
      },
    })
    const peer = new WebPeer(catalog, membership, libp2p as unknown as Libp2p<Services>, name)
    peer.#wire()
    return peer
  }

  get deviceId(): string {
    return this.membership.selfId
  }

  get paired(): boolean {
    return this.catalog.libraryId !== undefined && this.membership.isMember(this.deviceId)
  }

  status(): PeerStatus {
    const members = new Set(this.membership.others().map((m) => m.deviceId))
    const open = this.libp2p
      .getConnections()
      .filter((c) => c.status === 'open' && members.has(c.remotePeer.toString()))
    const connected = [...new Set(open.map((c) => c.remotePeer.toString()))]
    const synced = this.libp2p.services.catalogSync.getPeers().filter((id) => members.has(id))
    return {
      deviceId: this.deviceId,
      deviceName: this.deviceName,
      paired: this.paired,
      connected,
      synced,
      addresses: open.map((c) => c.remoteAddr.toString()),
    }
  }

  /** The library's other devices: how this page reaches each now (LAN, direct, relayed, or not). */
  devices(): DeviceReach[] {
    return this.membership.others().map((member) => {
      const connection = bestConnection(
        this.libp2p.getConnections().filter((c) => c.remotePeer.toString() === member.deviceId),
      )
      return {
        deviceId: member.deviceId,
        name: member.name,
        reach: connection === undefined ? null : reachOf(connection),
        address: connection?.remoteAddr.toString() ?? null,
        lastSeen: member.lastSeen ?? null,
      }
    })
  }

  /** Round-trip time to a connected device in ms (libp2p ping over the open connection), or null. */
  roundTripMs(deviceId: string, signal: AbortSignal): Promise<number | null> {
    return roundTripMs(this.libp2p as unknown as Parameters<typeof roundTripMs>[0], deviceId, signal)
  }

  /** Joins the library of the device that made the invite, then syncs the catalog with it. */
  async join(invite: string, signal?: AbortSignal): Promise<JoinResult> {
    const result = await this.libp2p.services.pairing.join(invite, { signal })
    await this.libp2p.services.catalogSync.syncWith(result.inviterPeerId, {
      signal: signal ?? AbortSignal.timeout(60_000),
    })
    this.#dialer.reset()
    return result
  }

  async stop(): Promise<void> {
    this.#stopEnforcing?.()
    this.#dialer.stop()
    this.#upgrader?.stop()
    this.membership.close()
    await this.libp2p.stop()
  }

  #wire(): void {
    const emitStatus = () => this.dispatchEvent(new Event('status'))
    for (const event of ['connection:open', 'connection:close'] as const) {
      this.libp2p.addEventListener(event, emitStatus)
    }
    this.libp2p.services.catalogSync.addEventListener('peer:synced', emitStatus)
    this.libp2p.services.catalogSync.addEventListener('peer:sync-lost', emitStatus)
    this.membership.addEventListener('change', () => {
      this.#dialer.reset()
      emitStatus()
    })
    this.catalog.doc.on('update', () => this.dispatchEvent(new Event('catalog')))
    // A device revoked anywhere is hung up on here too (the gater refuses new connections).
    this.#stopEnforcing = enforceRevocations(this.libp2p, this.membership)
    this.#dialer.start()
    // Away from home the page reaches devices through the relay; where the networks allow it,
    // a WebRTC connection set up through the relay takes over (the page starts it: a device
    // cannot dial a browser, which holds no reservation). Its own addresses the dialer tried.
    this.#upgrader = new DirectUpgrader(
      this.libp2p as unknown as ConstructorParameters<typeof DirectUpgrader>[0],
      {
        isMember: (peerId) => this.membership.isMember(peerId),
        addressesOf: () => [],
        dialExact: (address, options) => this.libp2p.dial(address, { ...options, force: true }),
        initiates: () => true,
        tryOwnAddresses: false,
        // The page's console: how the upgrade went (for the curious, and for test logs).
        log: {
          error: (line) => console.info(line),
          warn: (line) => console.info(line),
          info: (line) => console.info(line),
          debug: () => {},
        },
      },
    )
    this.#upgrader.start()
  }

  #otherDevices(): DialTarget[] {
    return this.membership.others().map((m) => ({ peerId: m.deviceId, addresses: m.addresses ?? [] }))
  }

  /** Library devices other than this one, for the blob fetcher: connected ones first. */
  devicesHolding(deviceIds: string[]): string[] {
    const connected = new Set(this.status().connected)
    const members = deviceIds.filter((id) => id !== this.deviceId && this.membership.isMember(id))
    return members.sort((a, b) => Number(connected.has(b)) - Number(connected.has(a)))
  }
}
