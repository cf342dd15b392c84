import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { WebRTCDirect, WebSockets } from '@multiformats/multiaddr-matcher'

export interface DialTarget {
  peerId: string
  addresses: string[]
}

interface Backoff {
  attempts: number
  nextAt: number
}

/** Addresses a page can dial: WebRTC-Direct (with its certhash) and WebSockets. */
export function browserDialable(addresses: string[]): Multiaddr[] {
  return addresses.flatMap((text) => {
    try {
      const ma = multiaddr(text)
      return WebRTCDirect.matches(ma) || WebSockets.matches(ma) ? [ma] : []
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
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(20_000)])
      this.#libp2p
        .dial(targets, { signal })
        .then(() => this.#backoff.delete(peerId))
        .catch(() => {
          const attempts = (backoff?.attempts ?? 0) + 1
          this.#backoff.set(peerId, { attempts, nextAt: Date.now() + Math.min(60_000, 1000 * 2 ** attempts) })
        })
        .finally(() => this.#dialing.delete(peerId))
    }
  }
}
