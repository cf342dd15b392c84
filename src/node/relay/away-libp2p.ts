import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { webRTC } from '@libp2p/webrtc'

/** The device's settings for reaching home from away (NetworkConfig has them). */
export interface AwaySettings {
  /** Ask the router for a port mapping (UPnP IGD / NAT-PMP). */
  upnp: boolean
  /** STUN (and TURN) servers for WebRTC, e.g. stun:stun.example.org:3478; empty: libp2p's public defaults. */
  stunServers: string[]
}

/** Transports a device adds: circuit relay v2 (client) and WebRTC through a relay (hole punching). */
export function awayTransports(settings: AwaySettings) {
  const iceServers =
    settings.stunServers.length === 0 ? undefined : settings.stunServers.map((urls) => iceServer(urls))
  return [
    circuitRelayTransport({ reservationCompletionTimeout: 20_000 }),
    webRTC(iceServers === undefined ? {} : { rtcConfiguration: { iceServers } }),
  ]
}

/** `/webrtc`: accept WebRTC connections set up through our relays. */
export const AWAY_LISTEN = ['/webrtc']

/** Services a device adds: DCUtR, AutoNAT v2 and, when asked for, UPnP / NAT-PMP. */
export function awayServices(settings: AwaySettings) {
  return {
    dcutr: dcutr(),
    autoNAT: autoNATv2(),
    ...(settings.upnp ? { upnp: uPnPNAT() } : {}),
  }
}

/** turn:user:password@host:port is a TURN server with credentials; anything else is used as is. */
function iceServer(url: string): { urls: string; username?: string; credential?: string } {
  const turn = /^(turns?):([^:@]+):([^@]+)@(.+)$/.exec(url)
  if (turn === null) return { urls: url }
  return { urls: `${turn[1]}:${turn[4]}`, username: turn[2]!, credential: turn[3]! }
}

/**
 * The device's gater, letting its relays through as well: a relay is not a device of the library,
 * and the access gater refuses everyone else (handlers still refuse it anything but relaying).
 */
export function withRelays(
  gater: ConnectionGater,
  relays: { isRelay(peerId: string): boolean },
): ConnectionGater {
  const relay = (peer: PeerId) => relays.isRelay(peer.toString())
  return {
    ...gater,
    denyDialPeer: async (peer) => !relay(peer) && (await gater.denyDialPeer?.(peer)) === true,
    denyInboundEncryptedConnection: async (peer, conn) =>
      !relay(peer) && (await gater.denyInboundEncryptedConnection?.(peer, conn)) === true,
    denyOutboundEncryptedConnection: async (peer, conn) =>
      !relay(peer) && (await gater.denyOutboundEncryptedConnection?.(peer, conn)) === true,
  }
}
