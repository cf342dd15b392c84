import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { Circuit, WebRTCDirect, WebSockets } from '@multiformats/multiaddr-matcher'

export interface DialTarget {
  peerId: string
  addresses: string[]
}

interface Backoff {
  attempts: number
  nextAt: number
}

/**
 * Addresses a page can dial: WebRTC-Direct (with its certhash) and WebSockets, and relayed ones
 * (`<relay>/p2p-circuit/p2p/<device>`) whose relay it reaches over one of those.
 */
export function browserDialable(addresses: string[]): Multiaddr[] {
  const direct = (ma: Multiaddr) => WebRTCDirect.matches(ma) || WebSockets.matches(ma)
  return addresses.flatMap((text) => {
    try {
      const ma = multiaddr(text)
      if (direct(ma)) return [ma]
      // Circuit does not match `/p2p-circuit/webrtc` (WebRTC through the relay, not set up here).
      return Circuit.matches(ma) && direct(multiaddr(text.split('/p2p-circuit')[0])) ? [ma] : []
    } catch {
      return []
    }
  })
}

/**
 * Keeps the page connected to the library's devices, at the addresses they publish in the
 * catalog, with backoff per device (1 s doubling to 60 s; a page is short-lived, so the cap is
 * lower than a node's).
 */
export class Dialer {
  readonly #libp2p: Libp2p
  readonly #targets: () => DialTarget[]
  readonly #backoff = new Map<string, Backoff>()
  readonly #dialing = new Set<string>()
  readonly #controller = new AbortController()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(libp2p: Libp2p, targets: () => DialTarget[]) {
    this.#libp2p = libp2p
    this.#targets = targets
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.tick(), intervalMs)
    this.tick()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#controller.abort()
  }

  /** Try every device now, whatever its backoff (after pairing, or when the network returns). */
  reset(): void {
    this.#backoff.clear()
    this.tick()
  }

  tick(): void {
    const now = Date.now()
    for (const { peerId, addresses } of this.#targets()) {
      if (this.#dialing.has(peerId)) continue
      const peer = peerIdFromString(peerId)
      if (this.#libp2p.getConnections(peer).some((c) => c.status === 'open')) {
        this.#backoff.delete(peerId)
        continue
      }
      const backoff = this.#backoff.get(peerId)
      if (backoff !== undefined && backoff.nextAt > now) continue
      const targets = browserDialable(addresses).map((ma) =>
        ma.getComponents().some((c) => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${peerId}`),
      )
      if (targets.length === 0) continue
      this.#dialing.add(peerId)
      this.#dial(targets)
        .then(() => this.#backoff.delete(peerId))
        .catch(() => {
          const attempts = (backoff?.attempts ?? 0) + 1
          this.#backoff.set(peerId, { attempts, nextAt: Date.now() + Math.min(60_000, 1000 * 2 ** attempts) })
        })
        .finally(() => this.#dialing.delete(peerId))
    }
  }

  /**
   * The device's own addresses first, its relayed ones only when none of those works: libp2p
   * would dial a relayed address on a public relay before a LAN address, and a page at home must
   * not stream through the relay. (A page that later comes home keeps its relayed connection
   * until it drops; Node devices move theirs, see src/node/relay/direct-upgrade.ts.)
   */
  async #dial(targets: Multiaddr[]): Promise<void> {
    const relayed = targets.filter((ma) => ma.toString().includes('/p2p-circuit'))
    const own = targets.filter((ma) => !relayed.includes(ma))
    const signal = () => AbortSignal.any([this.#controller.signal, AbortSignal.timeout(20_000)])
    if (own.length > 0) {
      try {
        await this.#libp2p.dial(own, { signal: signal() })
        return
      } catch (error) {
        if (relayed.length === 0 || this.#controller.signal.aborted) throw error
      }
    }
    await this.#libp2p.dial(relayed, { signal: signal() })
  }
}
