import os from 'node:os'
import { noise } from '@chainsafe/libp2p-noise'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { isPrivate } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { ListenError } from '../daemon/libp2p-node.ts'
import type { Logger } from '../log.ts'
import { RELAY_MEMBERS_PROTOCOL } from './constants.ts'
import type { MemberBook } from './member-book.ts'
import { membersHandler } from './members-protocol.ts'
import { relayGater } from './relay-gater.ts'

export interface RelayNodeOptions {
  privateKey: PrivateKey
  book: MemberBook
  listenHost: string
  tcpPort: number
  wsPort: number
  /** Public addresses to announce instead of the interface addresses (a host behind 1:1 NAT). */
  announce?: string[]
  log: Logger
}

export type RelayLibp2p = Libp2p<{ relay: { reservations: { size: number } } }>

/**
 * A relay-only node: circuit relay v2 for the devices of the libraries it serves (no data of its
 * own; it sees only the devices' encrypted streams), AutoNAT v2 so devices learn whether they are
 * reachable, identify and ping. The default limits of 2 minutes and 128 KiB per relayed connection
 * are lifted: the gater already refuses everyone but the libraries' devices, and a track or a
 * catalog would not fit in them.
 */
export async function createRelayNode(options: RelayNodeOptions): Promise<RelayLibp2p> {
  const { listenHost: host } = options
  const ip = host.includes(':') ? 'ip6' : 'ip4'
  const listen = [`/${ip}/${host}/tcp/${options.tcpPort}`, `/${ip}/${host}/tcp/${options.wsPort}/ws`]
  // libp2p announces a public address only once AutoNAT has confirmed it; a relay's whole point is
  // its public address, so announce its public interface addresses from the start.
  const announce = options.announce ?? publicAddresses(host, options.tcpPort, options.wsPort)
  let node: RelayLibp2p
  try {
    node = (await createLibp2p({
      privateKey: options.privateKey,
      addresses: {
        listen,
        ...(announce.length === 0 ? {} : { announce }),
        // Devices put the relay's addresses in their relayed addresses: loopback and LAN ones are
        // of no use to a device elsewhere, when the relay has a public one.
        announceFilter: (addrs) => {
          const open = addrs.filter((a) => !isPrivate(a))
          return open.length > 0 ? open : addrs
        },
      },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: relayGater(options.book),
      services: {
        identify: identify(),
        ping: ping(),
        autoNAT: autoNATv2(),
        relay: circuitRelayServer({
          reservations: { applyDefaultLimit: false, maxReservations: 1024 },
          // A relayed connection waits for its destination to answer: allow slow links.
          hopTimeout: 30_000,
        }),
      },
    })) as unknown as RelayLibp2p
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message))
      throw new ListenError(
        `cannot listen on ${listen.join(', ')}: a port is in use. Choose others with --tcp-port and --ws-port.`,
      )
    throw error
  }
  await node.handle(
    RELAY_MEMBERS_PROTOCOL,
    membersHandler(options.book, (line) => options.log.info(line)),
    {
      runOnLimitedConnection: false,
    },
  )
  return node
}

/** `/ip4/<public ip>/tcp/<port>` (and ws) for each public interface address, when ports are fixed. */
function publicAddresses(host: string, tcpPort: number, wsPort: number): string[] {
  if (tcpPort === 0 || wsPort === 0) return []
  const ips =
    host === '0.0.0.0'
      ? Object.values(os.networkInterfaces())
          .flat()
          .flatMap((i) => (i !== undefined && i.family === 'IPv4' && !i.internal ? [i.address] : []))
      : [host]
  return ips
    .filter((ip) => !isPrivate(multiaddr(`/ip4/${ip}`)))
    .flatMap((ip) => [`/ip4/${ip}/tcp/${tcpPort}`, `/ip4/${ip}/tcp/${wsPort}/ws`])
}
