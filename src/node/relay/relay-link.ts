import type {
  ComponentLogger,
  Connection,
  Libp2pEvents,
  PeerId,
  Startable,
  TypedEventTarget,
} from '@libp2p/interface'
import type { AddressManager, ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { RelayRefusedError } from './errors.ts'
import type { MembersMessage } from './member-book.ts'
import { sendMembers } from './members-protocol.ts'

export type RelayState = 'connecting' | 'unreachable' | 'refused' | 'connected' | 'reserved' | 'bad-address'

export interface RelayStatus {
  address: string
  state: RelayState
  /** Why it is not reserved, in words. */
  error: string | null
  /** Since when it is in this state (ms). */
  since: number
  /** Our addresses through it, once reserved. */
  relayedAddresses: string[]
}

export interface RelayLinkInit {
  /** The relays to keep (read on every round: the catalog setting may change). */
  relays(): string[]
  /** This library's device list, for the relay; undefined before the device belongs to a library. */
  members(): MembersMessage | undefined
  /** Check every this many ms (default 5000). */
  intervalMs?: number
  /** Told of every change of state, for the node's log. */
  onState?(status: RelayStatus): void
}

export interface RelayLinkComponents {
  connectionManager: ConnectionManager
  transportManager: TransportManager
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

interface Entry extends RelayStatus {
  peerId?: PeerId
  /** The connection we last sent the device list on. */
  toldOn?: string
  toldList?: string
  listenAfter: number
}

/**
 * Keeps this device's reservation on each of the library's relays: connects (and reconnects when
 * the relay was down), tells the relay the library's device list (it serves no one else), and
 * listens on `<relay>/p2p-circuit`, which makes libp2p publish our relayed address. js-libp2p
 * drops a configured relay for good when its connection closes, hence this loop.
 */
export class RelayLink implements Startable {
  readonly #components: RelayLinkComponents
  readonly #init: RelayLinkInit
  readonly #entries = new Map<string, Entry>()
  readonly #log: ReturnType<ComponentLogger['forComponent']>
  #timer: ReturnType<typeof setInterval> | undefined
  #controller = new AbortController()
  #running: Promise<void> | undefined

  constructor(components: RelayLinkComponents, init: RelayLinkInit) {
    this.#components = components
    this.#init = init
    this.#log = components.logger.forComponent('cloudless:relay-link')
  }

  readonly [Symbol.toStringTag] = 'cloudless-relay-link'

  start(): void {
    this.#controller = new AbortController()
    this.#components.events.addEventListener('connection:close', this.#onClose)
  }

  afterStart(): void {
    this.#timer = setInterval(() => this.check(), this.#init.intervalMs ?? 5000)
    this.check()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#controller.abort()
    this.#components.events.removeEventListener('connection:close', this.#onClose)
  }

  /** Relays and how each is doing, for `cloudless status`. */
  status(): RelayStatus[] {
    return [...this.#entries.values()].map(({ address, state, error, since, relayedAddresses }) => ({
      address,
      state,
      error,
      since,
      relayedAddresses,
    }))
  }

  /**
   * Dials exactly this address through its transport. For the WebRTC upgrade: libp2p.dial() would
   * also try the peer's other addresses and may hand back one more relayed connection instead.
   */
  dialExact(address: Multiaddr, options: { signal: AbortSignal }): Promise<Connection> {
    return this.#components.transportManager.dial(address, options)
  }

  /** Whether `peerId` is one of our relays (the access gater lets relays connect). */
  isRelay(peerId: string): boolean {
    for (const address of this.#init.relays()) if (address.endsWith(`/p2p/${peerId}`)) return true
    return false
  }

  /** Runs one round now (settings or members changed); rounds never overlap. */
  check(): void {
    if (this.#controller.signal.aborted) return
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined
    })
  }

  readonly #onClose = (event: CustomEvent<Connection>): void => {
    for (const entry of this.#entries.values()) {
      if (entry.peerId?.equals(event.detail.remotePeer) && event.detail.id === entry.toldOn) {
        this.#set(entry, 'connecting', 'the connection to the relay closed')
        // Reconnect soon, not at the next round.
        setTimeout(() => this.check(), 1000)
      }
    }
  }

  async #round(): Promise<void> {
    const wanted = new Set(this.#init.relays())
    for (const address of this.#entries.keys()) if (!wanted.has(address)) this.#entries.delete(address)
    await Promise.all([...wanted].map((address) => this.#keep(address)))
  }

  async #keep(address: string): Promise<void> {
    let entry = this.#entries.get(address)
    if (entry === undefined) {
      entry = {
        address,
        state: 'connecting',
        error: null,
        since: Date.now(),
        relayedAddresses: [],
        listenAfter: 0,
      }
      this.#entries.set(address, entry)
    }
    let ma: Multiaddr
    try {
      ma = multiaddr(address)
      entry.peerId ??= peerIdFromString(ma.getComponents().at(-1)?.value ?? '')
    } catch (error) {
      this.#set(entry, 'bad-address', (error as Error).message)
      return
    }
    const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(15_000)])
    const members = this.#init.members()
    try {
      const connection = await this.#components.connectionManager.openConnection(ma, { signal })
      const list = JSON.stringify(members)
      if (members !== undefined && (entry.toldOn !== connection.id || entry.toldList !== list)) {
        await sendMembers(connection, members, { signal })
        entry.toldOn = connection.id
        entry.toldList = list
      }
      entry.relayedAddresses = this.#relayedAddresses(entry.peerId)
      if (entry.relayedAddresses.length > 0) {
        this.#set(entry, 'reserved', null)
        return
      }
      this.#set(entry, 'connected', entry.error)
      if (Date.now() < entry.listenAfter) return
      // A failed listen leaves an empty listener behind in libp2p: do not retry too often.
      entry.listenAfter = Date.now() + 30_000
      await this.#components.transportManager.listen([ma.encapsulate('/p2p-circuit')])
      entry.relayedAddresses = this.#relayedAddresses(entry.peerId)
      this.#set(entry, entry.relayedAddresses.length > 0 ? 'reserved' : 'connected', null)
      entry.listenAfter = 0
    } catch (error) {
      if (this.#controller.signal.aborted) return
      const e = error as Error
      const refused =
        e instanceof RelayRefusedError || /PERMISSION_DENIED|RESERVATION_REFUSED/.test(e.message)
      this.#set(
        entry,
        refused ? 'refused' : entry.state === 'connected' ? 'connected' : 'unreachable',
        e.message,
      )
    }
  }

  #relayedAddresses(relay: PeerId): string[] {
    return this.#components.addressManager
      .getAddresses()
      .map(String)
      .filter((a) => a.includes(`/p2p/${relay}/p2p-circuit`))
  }

  #set(entry: Entry, state: RelayState, error: string | null): void {
    if (entry.state !== state) {
      this.#log('relay %s: %s -> %s %s', entry.address, entry.state, state, error ?? '')
      entry.since = Date.now()
      entry.state = state
      entry.error = error
      const { address, since, relayedAddresses } = entry
      this.#init.onState?.({ address, state, error, since, relayedAddresses })
    }
    entry.error = error
  }
}

export function relayLink(init: RelayLinkInit): (components: RelayLinkComponents) => RelayLink {
  return (components) => new RelayLink(components, init)
}
