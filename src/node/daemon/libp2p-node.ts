import { noise } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p, type ServiceFactoryMap } from 'libp2p'
import type { NetworkConfig } from '../device/config.ts'
import { AWAY_CONNECTION_MANAGER, AWAY_LISTEN, awayServices, awayTransports } from '../relay/index.ts'
import { decryptingWithoutCopies } from './noise-decrypt.ts'
import { gatheringSocketWrites } from './socket-writes.ts'
import { loadOrCreateWebRTCCertificate } from './webrtc-certificate.ts'

export class ListenError extends Error {
  override name = 'ListenError'
}

export interface Libp2pNodeOptions<S extends Record<string, unknown>> {
  privateKey: PrivateKey
  network: NetworkConfig
  connectionGater: ConnectionGater
  services: ServiceFactoryMap<S>
  /** Where the WebRTC-Direct certificate is kept, so its certhash survives restarts (default: a new one per start). */
  webrtcCertificateFile?: string
}

/**
 * The device's libp2p node: TCP, WebSockets and WebRTC-Direct listeners on fixed ports (so other
 * devices can redial the addresses they remember), noise, yamux, identify, ping, and mDNS on the LAN.
 */
export async function createLibp2pNode<S extends Record<string, unknown>>(options: Libp2pNodeOptions<S>) {
  const { network } = options
  const host = network.listenHost
  const ip = host.includes(':') ? 'ip6' : 'ip4'
  const listen = [
    `/${ip}/${host}/tcp/${network.tcpPort}`,
    `/${ip}/${host}/tcp/${network.wsPort}/ws`,
    `/${ip}/${host}/udp/${network.webrtcPort}/webrtc-direct`,
    ...AWAY_LISTEN,
  ]
  const certificate =
    options.webrtcCertificateFile === undefined
      ? undefined
      : await loadOrCreateWebRTCCertificate(options.webrtcCertificateFile)
  try {
    return await createLibp2p({
      privateKey: options.privateKey,
      addresses: { listen },
      transports: [
        tcp(),
        webSockets(),
        webRTCDirect(certificate === undefined ? {} : { certificate }),
        ...awayTransports(network),
      ],
      connectionEncrypters: [gatheringSocketWrites(decryptingWithoutCopies(noise()))],
      streamMuxers: [yamux()],
      connectionGater: options.connectionGater,
      connectionManager: AWAY_CONNECTION_MANAGER,
      peerDiscovery: network.mdns ? [mdns()] : [],
      services: {
        identify: identify(),
        ping: ping(),
        ...awayServices(network),
        ...options.services,
      } as ServiceFactoryMap<S & { identify: unknown; ping: unknown }>,
    })
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message)) {
      throw new ListenError(
        `cannot listen on ${listen.join(', ')}: a port is in use (another cloudless node?). ` +
          'Choose other ports with --tcp-port, --ws-port and --webrtc-port.',
      )
    }
    throw error
  }
}

export type Libp2pNode = Libp2p<Record<string, unknown>>
