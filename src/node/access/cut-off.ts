import type { AbortOptions, Logger, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Membership, MembershipEvents } from './membership.ts'

/** The part of a libp2p node that cutting a peer off needs. */
export interface HangUp {
  hangUp(peer: PeerId, options?: AbortOptions): Promise<void>
}

/** Closes every connection to `peerId` (gracefully; libp2p aborts what does not close in time). */
export async function cutOff(
  node: HangUp,
  peerId: PeerId | string,
  options: AbortOptions = {},
): Promise<void> {
  const peer = typeof peerId === 'string' ? peerIdFromString(peerId) : peerId
  await node.hangUp(peer, options)
}

export interface EnforceRevocationsOptions {
  /**
   * Wait this long before hanging up (default 1 s), so the update that revokes a device can
   * still reach it over an open sync stream and it learns that it was removed. The gater refuses
   * it from the moment of the revocation.
   */
  graceMs?: number
  log?: Logger
}

/**
 * Closes connections to every device that stops being a member: revoked here or on another
 * device (the revocation arrives through catalog sync). Returns a function that stops it.
 */
export function enforceRevocations(
  node: HangUp,
  membership: Membership,
  options: EnforceRevocationsOptions = {},
): () => void {
  const graceMs = options.graceMs ?? 1000
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const onChange = (event: MembershipEvents['change']): void => {
    for (const deviceId of event.detail.left) {
      if (deviceId === membership.selfId) continue
      const timer = setTimeout(() => {
        timers.delete(timer)
        // Re-added in the meantime (a new invite): leave it be.
        if (membership.isMember(deviceId)) return
        cutOff(node, deviceId, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
          options.log?.error('could not close connections to revoked device %s: %s', deviceId, err.message)
        })
      }, graceMs)
      timers.add(timer)
    }
  }
  membership.addEventListener('change', onChange)
  return () => {
    membership.removeEventListener('change', onChange)
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
  }
}
