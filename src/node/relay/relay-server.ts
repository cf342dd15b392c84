import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { loadOrCreateIdentity } from '../device/identity.ts'
import type { Logger } from '../log.ts'
import { MemberBook } from './member-book.ts'
import { createRelayNode, type RelayLibp2p } from './relay-node.ts'

export interface RelayServerOptions {
  /** The relay's own folder: identity.key (its peer id) and relay.json (whom it serves). */
  home: string
  listenHost: string
  tcpPort: number
  wsPort: number
  announce?: string[]
  /** Device ids that may introduce their library to this relay. */
  allow: string[]
  log: Logger
}

/** `cloudless relay`: the relay node with its identity and its book of members, on disk. */
export class RelayServer {
  readonly libp2p: RelayLibp2p
  readonly book: MemberBook

  private constructor(libp2p: RelayLibp2p, book: MemberBook) {
    this.libp2p = libp2p
    this.book = book
  }

  static async start(options: RelayServerOptions): Promise<RelayServer> {
    await mkdir(options.home, { recursive: true, mode: 0o700 })
    const { privateKey } = await loadOrCreateIdentity(path.join(options.home, 'identity.key'))
    const book = await MemberBook.open(path.join(options.home, 'relay.json'), options.allow)
    const libp2p = await createRelayNode({ ...options, privateKey, book })
    const { log } = options
    libp2p.addEventListener('connection:open', (event) => {
      const c = event.detail
      log.debug(`connection from ${c.remotePeer} over ${c.remoteAddr}`)
    })
    return new RelayServer(libp2p, book)
  }

  describe() {
    return {
      peerId: this.libp2p.peerId.toString(),
      addresses: this.libp2p.getMultiaddrs().map(String),
      libraries: this.book.summary(),
      reservations: this.libp2p.services.relay.reservations.size,
      pid: process.pid,
    }
  }

  async stop(): Promise<void> {
    await this.libp2p.stop()
  }
}
