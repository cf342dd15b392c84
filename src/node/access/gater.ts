import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'

export interface AccessGaterInit {
  membership: { isMember(peerId: string): boolean; isRevoked(peerId: string): boolean }
  invites: {
    /** While any invite is open, anyone may connect (they reach only the pairing handler). */
    hasOpen(): boolean
    /**
     * Shortly after an invite closed, strangers that were never members may still connect, so the
     * pairing handler can tell them the invite expired or was used (InviteBook: CLOSED_INVITE_GRACE_MS).
     */
    recentlyClosed(): boolean
  }
  /**
   * Whether to dial WebRTC-Direct addresses (default true). A Node device says no: it reaches other
   * Node devices over TCP or WebSockets wherever WebRTC-Direct would work, and STUN packets that
   * reach a node while it stops can crash it inside node-datachannel (its UDP mux calls back into
   * a listener being torn down); WebRTC-Direct is for browsers.
   */
  dialWebRtcDirect?: boolean
}

/** A connection we are about to make to a device that is not a member yet: the inviter we join. */
export interface ExpectedPeer {
  peerId?: string
  /** Dialled addresses, for an inviter whose peer id we learn only in the handshake (an invite code). */
  addresses?: string[]
}

/**
 * The libp2p connection gater of a cloudless node (ARCHITECTURE.md, decision 6). It runs on every
 * transport, WebRTC included, after the noise handshake has authenticated the remote peer id:
 * members pass; strangers pass only while an invite is open (or shortly after one closed, to hear
 * why they are refused; not revoked devices), or when we dial the inviter we are joining.
 * Handlers still check membership themselves (Membership.assertMember / membersOnly), because a
 * stranger let in for pairing must reach nothing else.
 *
 * Pass the object itself as libp2p's `connectionGater` option. Its methods are bound, since
 * libp2p calls some of them detached.
 */
export class AccessGater implements ConnectionGater {
  readonly #membership: AccessGaterInit['membership']
  readonly #invites: AccessGaterInit['invites']
  readonly #expected = new Set<{ peerId?: string; addresses: Set<string> }>()
  readonly #dialWebRtcDirect: boolean

  constructor(init: AccessGaterInit) {
    this.#membership = init.membership
    this.#invites = init.invites
    this.#dialWebRtcDirect = init.dialWebRtcDirect ?? true
  }

  /**
   * Admits connections to `peer` (by peer id or by dialled address) until the returned function
   * is called. For `join`: the inviter is not on our device list until pairing succeeds.
   */
  expectOutbound(peer: ExpectedPeer): () => void {
    const entry = {
      ...(peer.peerId === undefined ? {} : { peerId: peer.peerId }),
      addresses: new Set((peer.addresses ?? []).map((address) => addressKey(multiaddr(address)))),
    }
    this.#expected.add(entry)
    return () => {
      this.#expected.delete(entry)
    }
  }

  /** Whether a peer may be connected to at all, whoever dials. */
  isAdmitted(peerId: PeerId | string, remoteAddr?: Multiaddr): boolean {
    const id = peerId.toString()
    if (this.#membership.isMember(id) || this.#invites.hasOpen() || this.#isExpected(id, remoteAddr))
      return true
    return this.#invites.recentlyClosed() && !this.#membership.isRevoked(id)
  }

  readonly denyDialMultiaddr = (address: Multiaddr): boolean =>
    !this.#dialWebRtcDirect && address.getComponents().some((c) => c.name === 'webrtc-direct')

  // Saves a handshake with a stranger we would refuse anyway (dials by peer id only).
  readonly denyDialPeer = (peerId: PeerId): boolean => !this.isAdmitted(peerId)

  readonly denyInboundEncryptedConnection = (peerId: PeerId, _maConn: MultiaddrConnection): boolean =>
    !this.isAdmitted(peerId)

  readonly denyOutboundEncryptedConnection = (peerId: PeerId, maConn: MultiaddrConnection): boolean =>
    !this.isAdmitted(peerId, maConn.remoteAddr)

  #isExpected(peerId: string, remoteAddr: Multiaddr | undefined): boolean {
    const key = remoteAddr === undefined ? undefined : addressKey(remoteAddr)
    for (const expected of this.#expected) {
      if (expected.peerId === peerId) return true
      if (key !== undefined && expected.addresses.has(key)) return true
    }
    return false
  }
}

/** An address without its trailing /p2p/<id>, as a string. */
function addressKey(address: Multiaddr): string {
  let current = address
  while (current.getComponents().at(-1)?.code === CODE_P2P) current = current.decapsulateCode(CODE_P2P)
  return current.toString()
}
