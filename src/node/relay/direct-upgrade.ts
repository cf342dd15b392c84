import type { Connection, Libp2p } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.ts'
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
}

/**
 * Turns relayed connections to the library's devices into direct ones when the networks allow:
 * a WebRTC connection set up through the relay (ICE with STUN punches through cone NATs), then the
 * relayed connection is closed so the relay carries nothing more. While the devices stay relayed
 * (a symmetric NAT) it tries again with backoff: the network may change (the hotel's Wi-Fi for a
 * phone's hotspot). It also closes a relayed connection left next to a direct one (DCUtR with
 * UPnP, or the other side dialled). When the direct connection breaks, the redialer reconnects
 * through whatever works, the relay included, and this tries again.
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
    if (this.#libp2p.peerId.toString() > peer) return
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
    // Direct already (DCUtR, or the other side dialled): close what still goes through the relay.
    if (connections.some((c) => reachOf(c) !== 'relayed')) return this.#closeRelayed(relayed)
    const via = relayed[0]
    if (via === undefined) return
    this.#attempting.add(peer)
    const circuit = via.remoteAddr.toString().split('/p2p-circuit')[0]
    const target = multiaddr(`${circuit}/p2p-circuit/webrtc/p2p/${peer}`)
    try {
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(60_000)])
      // Its own addresses first: back on the same LAN (mDNS may be off), or a public address.
      const own = this.#options
        .addressesOf(peer)
        .filter((a) => !a.includes('/p2p-circuit'))
        .flatMap((a) => {
          try {
            return [multiaddr(a)]
          } catch {
            return []
          }
        })
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
      const retry = this.#retries.get(peer) ?? { delayMs: this.#options.retryMs ?? 30_000 }
      this.#options.log.info(
        `no direct connection to ${peer} yet (${(error as Error).message}); staying relayed, next try in ${Math.round(retry.delayMs / 1000)} s`,
      )
      this.#schedule(peer, retry.delayMs)
      retry.delayMs = Math.min(retry.delayMs * 2, 600_000)
    } finally {
      this.#attempting.delete(peer)
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
