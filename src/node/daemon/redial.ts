import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.ts'

interface Backoff {
  attempts: number
  nextAt: number
}

/**
 * Keeps trying to reach the library's other devices at the addresses they published in the
 * catalog, with exponential backoff per device (1 s doubling to 5 min), so devices that were
 * offline find each other again without any central server.
 */
export class Redialer {
  readonly #libp2p: Libp2p
  readonly #peers: () => Array<{ peerId: string; addresses: string[] }>
  readonly #log: Logger
  readonly #backoff = new Map<string, Backoff>()
  readonly #dialing = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  readonly #controller = new AbortController()

  constructor(libp2p: Libp2p, peers: () => Array<{ peerId: string; addresses: string[] }>, log: Logger) {
    this.#libp2p = libp2p
    this.#peers = peers
    this.#log = log
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.tick(), intervalMs)
    this.tick()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#controller.abort()
  }

  /** Forget the backoff, e.g. when the network changed or a device was just added. */
  reset(): void {
    this.#backoff.clear()
  }

  tick(): void {
    const now = Date.now()
    for (const { peerId, addresses } of this.#peers()) {
      if (addresses.length === 0 || this.#dialing.has(peerId)) continue
      let id: ReturnType<typeof peerIdFromString>
      try {
        id = peerIdFromString(peerId)
      } catch {
        continue
      }
      if (this.#libp2p.getConnections(id).length > 0) {
        this.#backoff.delete(peerId)
        continue
      }
      const backoff = this.#backoff.get(peerId) ?? { attempts: 0, nextAt: 0 }
      if (now < backoff.nextAt) continue
      this.#dialing.add(peerId)
      const addrs = addresses.flatMap((a) => {
        try {
          return [multiaddr(a)]
        } catch {
          return []
        }
      })
      const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(10_000)])
      this.#libp2p
        .dial(addrs, { signal })
        .then(() => {
          this.#backoff.delete(peerId)
          this.#log.debug(`reconnected to ${peerId}`)
        })
        .catch((error: Error) => {
          backoff.attempts++
          backoff.nextAt = Date.now() + Math.min(300_000, 1000 * 2 ** (backoff.attempts - 1))
          this.#backoff.set(peerId, backoff)
          this.#log.debug(
            `cannot reach ${peerId} yet (${error.message}); next try in ${Math.round((backoff.nextAt - Date.now()) / 1000)} s`,
          )
        })
        .finally(() => this.#dialing.delete(peerId))
    }
  }
}
