import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { webRTC } from '@libp2p/webrtc'
import { iceServer } from './relay-setting.ts'

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
  // WebRTC before the relay transport: libp2p dials an address with the first transport whose
  // filter takes it, and the relay transport takes `/p2p-circuit/webrtc` addresses too.
  return [
    webRTC({
      ...(iceServers === undefined ? {} : { rtcConfiguration: { iceServers } }),
      // The default 5 s for a data channel to open is too short for a busy 2-core machine (seen on
      // the test bed under load: a connected WebRTC connection whose channels never open).
      dataChannel: { openTimeout: 30_000 },
    }),
    circuitRelayTransport({ reservationCompletionTimeout: 20_000 }),
  ]
}

/**
 * Connection manager settings for WebRTC through a relay: the responder's ICE exchange runs
 * within the inbound upgrade timeout (10 s by default), too short under load.
 */
export const AWAY_CONNECTION_MANAGER = { inboundUpgradeTimeout: 60_000 }

/** `/webrtc`: accept WebRTC connections set up through our relays. */
export const AWAY_LISTEN = ['/webrtc']

/** Services a device adds: AutoNAT v2 and, when asked for, UPnP / NAT-PMP with DCUtR. */
export function awayServices(settings: AwaySettings) {
  return {
    // DCUtR only with a port mapping. js-libp2p's DCUtR dials TCP only, and Node cannot punch TCP
    // through a NAT (no SO_REUSEPORT: the mapped port is not the listening one); what it can do is
    // the unilateral upgrade to a device whose mapped port is public. Without that it only hurts:
    // it takes `<relay>/p2p-circuit/webrtc` for a public address and both sides dial it at once,
    // and two WebRTC negotiations between the same peers break each other (measured on the test
    // bed: channels stuck in "connecting"). Hole punching is DirectUpgrader's WebRTC dial.
    ...(settings.upnp ? { dcutr: dcutr({ timeout: 30_000 }) } : {}),
    autoNAT: autoNATv2(),
    ...(settings.upnp ? { upnp: uPnPNAT() } : {}),
  }
}

/** turn:user:password@host:port is a TURN server with credentials; anything else is used as is. */
