import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.ts'
import { WEBRTC_SIGNALING_PROTOCOL } from './constants.ts'
import { DirectPathBrokenError } from './errors.ts'
import { reachOf } from './reach.ts'

export interface DirectUpgradeOptions {
  isMember(peerId: string): boolean
  /** The addresses a device published (catalog), to try its LAN and public ones first. */
  addressesOf(peerId: string): string[]
  /** Dials this one address (RelayLink.dialExact). */
  dialExact(address: Multiaddr, options: { signal: AbortSignal }): Promise<Connection>
  log: Logger
  /** First retry after a failed attempt (ms, default 30 s); doubles up to 10 min. */
  retryMs?: number
  /** First attempt after a relayed connection opened (default 2 s). */
  firstTryMs?: number
  /** Whether this side starts the upgrade with `peer` (default: the side whose id sorts first). */
  initiates?: (peer: string) => boolean
  /** Try the device's own published addresses before WebRTC (default true). */
  tryOwnAddresses?: boolean
}

/** How long a direct connection gets to answer a ping before it counts as broken. */
const DIRECT_ALIVE_TIMEOUT_MS = 10_000
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32

/**
 * Whether a connection still carries data: one libp2p ping over this very connection (the ping
 * service would use whichever connection to the peer the connection manager picks).
 */
async function answers(connection: Connection, signal: AbortSignal): Promise<boolean> {
  let stream: Stream | undefined
  try {
    stream = await connection.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true })
    const opened = stream
    const echoed = new Promise<void>((resolve, reject) => {
      let bytes = 0
      opened.addEventListener('message', (event) => {
        bytes += event.data.byteLength
        if (bytes >= PING_BYTES) resolve()
      })
      opened.addEventListener('close', () => reject(new DirectPathBrokenError('the ping stream closed')))
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
    opened.send(crypto.getRandomValues(new Uint8Array(PING_BYTES)))
    await echoed
    await opened
      .close({ signal })
      .catch(() => opened.abort(new DirectPathBrokenError('the ping did not close')))
    return true
  } catch {
    stream?.abort(new DirectPathBrokenError('no answer to a ping'))
    return false
  }
}

/**
 * Turns relayed connections to the library's devices into direct ones when the networks allow:
 * a WebRTC connection set up through the relay (ICE with STUN punches through cone NATs), then the
 * relayed connection is closed so the relay carries nothing more. While the devices stay relayed
 * (a symmetric NAT) it tries again with backoff: the network may change (the hotel's Wi-Fi for a
 * phone's hotspot). It also closes a relayed connection left next to a direct one (DCUtR with
 * UPnP, or the other side dialled), once that one has answered a ping. When the direct connection
 * breaks, the side that notices first (ICE, or libp2p's connection monitor) redials through
 * whatever works, the relay included; the other side, still holding the broken connection, finds
 * it silent, drops it and keeps the relayed one; and this tries again later (test/nat).
 *
 * Of two devices, only the one whose id sorts first starts the upgrade, so both do not race.
 */
export class DirectUpgrader {
  readonly #libp2p: Libp2p
  readonly #options: DirectUpgradeOptions
  readonly #retries = new Map<string, { delayMs: number; timer?: ReturnType<typeof setTimeout> }>()
  readonly #attempting = new Set<string>()
  readonly #controller = new AbortController()

  constructor(libp2p: Libp2p, options: DirectUpgradeOptions) {
    this.#libp2p = libp2p
    this.#options = options
  }

  start(): void {
    this.#libp2p.addEventListener('connection:open', this.#onOpen)
  }

  stop(): void {
    this.#controller.abort()
    this.#libp2p.removeEventListener('connection:open', this.#onOpen)
    for (const retry of this.#retries.values()) clearTimeout(retry.timer)
    this.#retries.clear()
  }

  readonly #onOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    const peer = connection.remotePeer.toString()
    if (reachOf(connection) !== 'relayed' || !this.#options.isMember(peer)) return
    const initiates = this.#options.initiates ?? ((other: string) => this.#libp2p.peerId.toString() < other)
    if (!initiates(peer)) return
    // Let identify finish first (the other side learns our addresses and protocols).
    this.#schedule(peer, this.#options.firstTryMs ?? 2000)
  }

  #schedule(peer: string, delayMs: number): void {
    const retry = this.#retries.get(peer) ?? { delayMs: this.#options.retryMs ?? 30_000 }
    clearTimeout(retry.timer)
    retry.timer = setTimeout(() => {
      this.#attempt(peer).catch(() => {})
    }, delayMs)
    this.#retries.set(peer, retry)
  }

  async #attempt(peer: string): Promise<void> {
    if (this.#controller.signal.aborted || this.#attempting.has(peer)) return
    const connections = this.#libp2p
      .getConnections()
      .filter((c) => c.remotePeer.toString() === peer && c.status === 'open')
    const relayed = connections.filter((c) => reachOf(c) === 'relayed')
    const direct = connections.filter((c) => reachOf(c) !== 'relayed')
    if (direct.length > 0) {
      if (relayed.length === 0) return
      // Direct already (DCUtR, or the other side dialled): close what still goes through the
      // relay, unless the direct connection has stopped carrying anything. When its path breaks
      // the other side may notice first and redial through the relay, while here the broken one
      // still looks open: closing the relayed one then would cut the devices off altogether.
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(DIRECT_ALIVE_TIMEOUT_MS)])
      const alive = await Promise.all(direct.map((c) => answers(c, signal)))
      if (alive.some(Boolean)) return this.#closeRelayed(relayed)
      for (const c of direct) {
        c.abort(
          new DirectPathBrokenError(`the direct connection to ${peer} (${c.remoteAddr}) stopped answering`),
        )
      }
      this.#options.log.info(
        `the direct connection to ${peer} stopped answering; staying relayed, next try in ${Math.round(this.#nextDelay(peer) / 1000)} s`,
      )
      this.#backOff(peer)
      return
    }
    const via = relayed[0]
    if (via === undefined) return
    this.#attempting.add(peer)
    const own = this.#options.tryOwnAddresses === false ? [] : this.#ownAddresses(peer)
    // A browser speaks no WebRTC signaling (it reaches us over the relay's WebSockets) and has no
    // addresses of its own: nothing to try, now or later. Unknown protocols (identify not done
    // yet) are tried as before.
    if (own.length === 0 && !(await this.#mayDoWebRtc(via))) {
      this.#retries.delete(peer)
      this.#attempting.delete(peer)
      return
    }
    const circuit = via.remoteAddr.toString().split('/p2p-circuit')[0]
    const target = multiaddr(`${circuit}/p2p-circuit/webrtc/p2p/${peer}`)
    try {
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(60_000)])
      // Its own addresses first: back on the same LAN (mDNS may be off), or a public address.
      let direct: Connection | undefined
      if (own.length > 0) {
        const quick = AbortSignal.any([signal, AbortSignal.timeout(10_000)])
        direct = await this.#libp2p.dial(own, { signal: quick, force: true }).catch(() => undefined)
        if (direct !== undefined && reachOf(direct) === 'relayed') direct = undefined
      }
      direct ??= await this.#options.dialExact(target, { signal })
      this.#options.log.info(`direct connection to ${peer} (${direct.remoteAddr}); leaving the relay`)
      this.#retries.delete(peer)
      await this.#closeRelayed(relayed)
    } catch (error) {
      this.#options.log.info(
        `no direct connection to ${peer} yet (${(error as Error).message}); staying relayed, next try in ${Math.round(this.#nextDelay(peer) / 1000)} s`,
      )
      this.#backOff(peer)
    } finally {
      this.#attempting.delete(peer)
    }
  }

  #nextDelay(peer: string): number {
    return this.#retries.get(peer)?.delayMs ?? this.#options.retryMs ?? 30_000
  }

  /** Tries again later, each time twice as late (up to 10 minutes). */
  #backOff(peer: string): void {
    const delayMs = this.#nextDelay(peer)
    this.#schedule(peer, delayMs)
    const retry = this.#retries.get(peer)
    if (retry !== undefined) retry.delayMs = Math.min(delayMs * 2, 600_000)
  }

  #ownAddresses(peer: string): Multiaddr[] {
    return this.#options
      .addressesOf(peer)
      .filter((a) => !a.includes('/p2p-circuit'))
      .flatMap((a) => {
        try {
          return [multiaddr(a)]
        } catch {
          return []
        }
      })
  }

  async #mayDoWebRtc(connection: Connection): Promise<boolean> {
    try {
      const { protocols } = await this.#libp2p.peerStore.get(connection.remotePeer)
      return protocols.length === 0 || protocols.includes(WEBRTC_SIGNALING_PROTOCOL)
    } catch {
      return true
    }
  }

  async #closeRelayed(relayed: Connection[]): Promise<void> {
    // Graceful: streams still open on it (a block being fetched) may finish.
    await Promise.all(
      relayed.map((c) =>
        c
          .close({ signal: AbortSignal.timeout(10_000) })
          .catch(() => c.abort(new Error('moved to a direct connection'))),
      ),
    )
  }
}
