import { collectGarbageNow } from '../daemon/collect-garbage.ts'
import type { CloudlessNode } from '../daemon/node.ts'
// Light imports only: every CLI command loads the op registry, and the relay and pairing services pull
// in libp2p (measured: +0.45 s on `cloudless scan`). What they are needed for is imported when used.
import { LINK_PREFIX } from '../protocols/pairing/invite.ts'
import type { Reach, RelayState, roundTripMs as RoundTripMs } from '../relay/index.ts'
import { defineOp, type OpContext, OpError, requireNode as requireNodeOf } from './op.ts'

/** Ops that need the network run only inside a running node. */
const requireNode = (ctx: OpContext) => requireNodeOf<CloudlessNode>(ctx)

export interface InviteResult {
  id: string
  link: string
  code: string | null
  expiresAt: number
  peerId: string
  addresses: string[]
  /** The same invite for a browser: the node's web app, the invite in the URL fragment. */
  webLink: string
}

export const inviteOp = defineOp<{ ttlMinutes?: number }, InviteResult>({
  name: 'invite',
  async run(ctx, args) {
    const node = requireNode(ctx)
    const ttlMinutes = args.ttlMinutes ?? 15
    if (!(ttlMinutes > 0 && ttlMinutes <= 24 * 60))
      throw new OpError('bad-args', 'an invite lasts 1 to 1440 minutes')
    const invite = await node.libp2p.services.pairing.createInvite({
      ttlMs: ttlMinutes * 60_000,
      signal: ctx.signal,
    })
    return {
      id: invite.id,
      link: invite.link,
      code: invite.code ?? null,
      expiresAt: invite.expiresAt,
      peerId: invite.peerId,
      addresses: invite.addresses,
      webLink: `${node.http.url}/#join=${invite.link.slice(LINK_PREFIX.length)}`,
    }
  },
})

export interface JoinResult {
  libraryId: string
  inviter: { peerId: string; name: string }
  tracks: number
  syncMs: number
}

export const joinOp = defineOp<{ invite: string; timeoutMs?: number }, JoinResult>({
  name: 'join',
  async run(ctx, args) {
    const node = requireNode(ctx)
    if (typeof args.invite !== 'string' || args.invite.trim() === '')
      throw new OpError('bad-args', 'no invite given')
    const started = performance.now()
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(args.timeoutMs ?? 120_000)])
    let joined: Awaited<ReturnType<typeof node.libp2p.services.pairing.join>>
    try {
      joined = await node.libp2p.services.pairing.join(args.invite, { signal })
    } catch (error) {
      const e = error as Error
      throw new OpError(e.name, e.message)
    }
    // Pairing carried the inviter's catalog; wait for the live sync too, so that what the user
    // sees next is current.
    await node.libp2p.services.catalogSync.syncedWith(joined.inviterPeerId, { signal }).catch(() => {})
    await node.device.store.flush()
    // The catalog arrived as tens of MB of buffers, now garbage: give the memory back before
    // answering, rather than holding it until V8 next collects.
    collectGarbageNow()
    return {
      libraryId: joined.libraryId,
      inviter: { peerId: joined.inviterPeerId, name: joined.inviterName },
      tracks: node.device.catalog.trackCount,
      syncMs: Math.round(performance.now() - started),
    }
  },
})

export interface DeviceListItem {
  id: string
  name: string
  self: boolean
  online: boolean
  revoked: boolean
  lastSeen: number | null
  addedAt: number
  addresses: string[]
  /**
   * How this device reaches it now, when connected: `reach` is lan, direct (over the internet,
   * hole-punched included) or relayed; `rttMs` the libp2p ping round trip (null: no answer).
   */
  connection: { address: string; direction: string; reach: Reach; rttMs: number | null } | null
  holds: { files: number; tracks: number; bytes: number }
}

export const devicesOp = defineOp<Record<string, never>, DeviceListItem[]>({
  name: 'devices',
  async run(ctx) {
    const node = ctx.node as CloudlessNode | undefined
    const { catalog, deviceId } = ctx.device
    const holds = catalog.holdings()
    const out: DeviceListItem[] = []
    const rtts = await roundTrips(node, ctx.signal)
    for (const [id, record] of catalog.devices) {
      const self = id === deviceId
      const open = self ? undefined : node?.connectionTo(id)
      const connection = open === undefined ? undefined : { ...open, rttMs: rtts.get(id) ?? null }
      const revoked = node?.membership.isRevoked(id) ?? record.revoked === true
      out.push({
        id,
        name: record.name,
        self,
        online: self || connection !== undefined,
        revoked,
        lastSeen: self ? Date.now() : (node?.lastSeen(id) ?? record.lastSeen ?? null),
        addedAt: record.addedAt,
        addresses: record.addresses ?? [],
        connection: connection ?? null,
        holds: holds.get(id) ?? { files: 0, tracks: 0, bytes: 0 },
      })
    }
    return out.sort((a, b) => Number(b.self) - Number(a.self) || a.addedAt - b.addedAt)
  },
})

/** Pings every connected device at once (2 s at most), for the reach columns. */
export async function roundTrips(
  node: CloudlessNode | undefined,
  signal: AbortSignal,
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>()
  if (node === undefined) return out
  const peers = [...new Set(node.libp2p.getConnections().map((c) => c.remotePeer.toString()))].filter((id) =>
    node.membership.isMember(id),
  )
  const limit = AbortSignal.any([signal, AbortSignal.timeout(2000)])
  const { roundTripMs } = await import('../relay/reach.ts')
  const libp2p = node.libp2p as unknown as Parameters<typeof RoundTripMs>[0]
  await Promise.all(peers.map(async (id) => out.set(id, await roundTripMs(libp2p, id, limit))))
  return out
}

export interface NetworkStatus {
  /** The library's relays and this device's reservation on each. */
  relays: Array<{ address: string; state: RelayState; error: string | null; since: number }>
  /** The other devices: how each is reached now (null: not connected) and the round trip. */
  devices: Array<{
    id: string
    name: string
    reach: Reach | null
    address: string | null
    rttMs: number | null
  }>
}

/** What `cloudless status` shows of the network, when the node runs. */
export async function networkStatus(node: CloudlessNode, signal: AbortSignal): Promise<NetworkStatus> {
  const rtts = await roundTrips(node, signal)
  const devices: NetworkStatus['devices'] = []
  for (const member of node.membership.others()) {
    const connection = node.connectionTo(member.deviceId)
    devices.push({
      id: member.deviceId,
      name: member.name,
      reach: connection?.reach ?? null,
      address: connection?.address ?? null,
      rttMs: connection === undefined ? null : (rtts.get(member.deviceId) ?? null),
    })
  }
  const relays = node.relays().map(({ address, state, error, since }) => ({ address, state, error, since }))
  return { relays, devices }
}

export const deviceRemoveOp = defineOp<{ id: string }, { id: string; name: string }>({
  name: 'device-remove',
  async run(ctx, args) {
    const { catalog, deviceId } = ctx.device
    const matches = [...catalog.devices.keys()].filter(
      (id) => id === args.id || (args.id.length >= 6 && id.startsWith(args.id)),
    )
    if (matches.length === 0)
      throw new OpError('unknown-device', `no device ${args.id} in this library (see: cloudless devices)`)
    if (matches.length > 1)
      throw new OpError('ambiguous', `${args.id} matches ${matches.length} devices: ${matches.join(', ')}`)
    const id = matches[0]!
    if (id === deviceId)
      throw new OpError('self', 'a device cannot remove itself; remove it from another device')
    const node = ctx.node as CloudlessNode | undefined
    if (node !== undefined) node.membership.revoke(id)
    else {
      const { Membership } = await import('../access/index.ts')
      new Membership({ catalog, selfId: deviceId }).revoke(id)
    }
    await ctx.device.store.flush()
    return { id, name: catalog.devices.get(id)?.name ?? id }
  },
})

export const NETWORK_OPS = [inviteOp, joinOp, devicesOp, deviceRemoveOp]
