import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { MemberBook } from './member-book.ts'

/**
 * The relay's connection gater: only devices of the libraries it serves (and the devices allowed
 * to introduce one) may connect, hold a reservation, or be relayed, and only to a device of their
 * own library. Strangers are refused right after the handshake, before they can ask anything.
 */
export function relayGater(book: MemberBook): ConnectionGater {
  const id = (peer: PeerId) => peer.toString()
  return {
    denyInboundEncryptedConnection: (peer) => !book.isKnown(id(peer)),
    denyOutboundEncryptedConnection: (peer) => !book.isKnown(id(peer)),
    denyInboundRelayReservation: (peer) => !book.isMember(id(peer)),
    // Asked when `source` wants the relay to connect it to `destination`.
    denyOutboundRelayedConnection: (source, destination) => !book.sameLibrary(id(source), id(destination)),
  }
}
