import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type ServiceFactoryMap } from 'libp2p'

/** The transports a page can dial Node devices with. */
export type BrowserTransport = 'webrtc-direct' | 'websockets'
export const BROWSER_TRANSPORTS: readonly BrowserTransport[] = ['webrtc-direct', 'websockets']

export interface BrowserLibp2pOptions<S extends Record<string, unknown>> {
  privateKey: PrivateKey
  /** Default: both. One only to find out how a network behaves (the app's `?transport=`). */
  transports?: readonly BrowserTransport[]
  connectionGater: ConnectionGater
  /** For WebRTC through a relay (hole punching away from home); default: libp2p's public STUN servers. */
  iceServers?: RTCIceServer[]
  services: ServiceFactoryMap<S>
}

/**
 * The page's libp2p node: it dials Node devices over WebRTC-Direct and WebSockets and listens on
 * nothing (a page cannot); devices reach it over the connections it opens. No peer discovery:
 * it dials the addresses the devices publish in the catalog (dialer.ts). Away from home it
 * reaches them through the library's relay (circuit relay v2, the relay dialled over one of those
 * transports), at the relayed addresses the devices publish; it holds no reservation itself.
 */
export async function createBrowserLibp2p<S extends Record<string, unknown>>(
  options: BrowserLibp2pOptions<S>,
): Promise<Libp2p<S & { identify: unknown; ping: unknown }>> {
  const chosen = options.transports ?? BROWSER_TRANSPORTS
  return createLibp2p({
    privateKey: options.privateKey,
    addresses: { listen: [] },
    transports: [
      ...chosen.map((t) => (t === 'webrtc-direct' ? webRTCDirect() : webSockets())),
      // Before the relay transport, which takes `/p2p-circuit/webrtc` addresses too: a relayed
      // connection to a device is upgraded to WebRTC set up through it (see peer.ts).
      webRTC({
        ...(options.iceServers === undefined ? {} : { rtcConfiguration: { iceServers: options.iceServers } }),
        dataChannel: { openTimeout: 30_000 },
      }),
      circuitRelayTransport(),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: options.connectionGater,
    services: { identify: identify(), ping: ping(), ...options.services } as ServiceFactoryMap<
      S & { identify: unknown; ping: unknown }
    >,
  })
}
