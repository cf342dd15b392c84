import type { ConnectionGater, PeerId } from '@libp2p/interface'

/**
 * A device's gater, letting its relays through as well: a relay is not a device of the library,
 * and the access gater refuses everyone else (handlers still refuse it anything but relaying).
 * In a file of its own, free of Node-only imports: the web peer reaches home through the relays
 * too (src/web/peer).
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
