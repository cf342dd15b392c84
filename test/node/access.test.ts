import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Catalog } from '../../src/crdt/catalog.ts'
import { AccessGater } from '../../src/node/access/gater.ts'
import {
  CannotRevokeSelfError,
  enforceRevocations,
  Membership,
  type MembershipChange,
  membersOnly,
  NotAMemberError,
  UnknownDeviceError,
} from '../../src/node/access/index.ts'
import { CATALOG_SYNC_PROTOCOL } from '../../src/node/protocols/catalog-sync/index.ts'
import { STRANGER_SWEEP_DELAY_MS } from '../../src/node/protocols/pairing/constants.ts'
import { PAIRING_PROTOCOL } from '../../src/node/protocols/pairing/index.ts'
import { decodeReply } from '../../src/node/protocols/pairing/messages.ts'
import { readMessages, writeMessage } from '../../src/node/protocols/stream-io.ts'
import { waitFor } from '../helpers/libp2p.ts'
import {
  type PairingPeer,
  type PairingPeerOptions,
  startPairingPeer,
  stopPairingPeer,
} from '../helpers/pairing-nodes.ts'

const ECHO_PROTOCOL = '/cloudless/test-echo/1.0.0'

const running: PairingPeer[] = []
const cleanups: (() => void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  await Promise.all(running.splice(0).map(stopPairingPeer))
})

async function peer(name: string, options: Omit<PairingPeerOptions, 'name'> = {}): Promise<PairingPeer> {
  const started = await startPairingPeer({ name, ...options })
  running.push(started)
  // A members-only protocol, standing in for the future blob protocol.
  await started.node.handle(
    ECHO_PROTOCOL,
    membersOnly(started.membership, async (stream) => {
      for await (const message of readMessages(stream, { maxMessageLength: 1024 })) {
        await writeMessage(stream, message)
      }
      await stream.close()
    }),
  )
  return started
}

/** Sends one message and returns what comes back before the stream ends; throws if it breaks. */
async function roundTrip(stream: Stream, message: Uint8Array): Promise<Uint8Array[]> {
  await writeMessage(stream, message)
  await stream.close()
  const received: Uint8Array[] = []
  for await (const reply of readMessages(stream, {
    maxMessageLength: 64 * 1024,
    signal: AbortSignal.timeout(5_000),
  })) {
    received.push(reply)
  }
  return received
}

/**
 * Dials and expects the other side to refuse. The dialler may briefly see a connection: noise
 * negotiates the muxer inside its handshake, so the dialler's upgrade can finish before the
 * listener's gater runs; the listener then aborts it at once.
 */
async function expectRefused(from: PairingPeer, to: PairingPeer): Promise<void> {
  try {
    const connection = await from.node.dial(to.node.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    await waitFor(() => connection.status !== 'open', 5_000, 'the refused connection to close')
  } catch {
    // refused outright
  }
  expect(to.node.getConnections(from.node.peerId).length).toBe(0)
}

async function pairUp(inviter: PairingPeer, joiner: PairingPeer): Promise<void> {
  const invite = await inviter.pairing.createInvite()
  await joiner.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })
}

describe('Membership', () => {
  it('lists members, revokes, and refuses to revoke itself or unknown devices', () => {
    const catalog = new Catalog()
    catalog.putDevice('self', { name: 'me', addedAt: 1 })
    catalog.putDevice('other', { name: 'you', addedAt: 2 })
    const membership = new Membership({ catalog, selfId: 'self' })
    const changes: MembershipChange[] = []
    membership.addEventListener('change', (event) => changes.push(event.detail))

    expect(membership.isMember('self')).toBe(true)
    expect(membership.isMember('other')).toBe(true)
    expect(membership.isMember('stranger')).toBe(false)
    expect(membership.members().map((m) => [m.deviceId, m.self])).toEqual([
      ['self', true],
      ['other', false],
    ])
    expect(() => membership.assertMember('stranger')).toThrow(NotAMemberError)
    expect(() => membership.revoke('self')).toThrow(CannotRevokeSelfError)
    expect(() => membership.revoke('stranger')).toThrow(UnknownDeviceError)

    membership.revoke('other')
    expect(membership.isMember('other')).toBe(false)
    expect(membership.isRevoked('other')).toBe(true)
    expect(catalog.devices.get('other')).toEqual({ name: 'you', addedAt: 2, revoked: true })
    expect(membership.members().map((m) => m.deviceId)).toEqual(['self'])
    expect(membership.devices().map((m) => m.deviceId)).toEqual(['self', 'other'])
    membership.revoke('other')

    catalog.putDevice('third', { name: 'new', addedAt: 3 })
    expect(changes).toEqual([
      { joined: [], left: ['other'] },
      { joined: ['third'], left: [] },
    ])
    membership.close()
  })

  it('learns of a revocation made on another device, including its own', () => {
    const a = new Catalog()
    a.putDevice('a', { name: 'a', addedAt: 1 })
    a.putDevice('b', { name: 'b', addedAt: 2 })
    const b = new Catalog()
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc))
    const onB = new Membership({ catalog: b, selfId: 'b' })
    const changes: MembershipChange[] = []
    let selfRevoked = 0
    onB.addEventListener('change', (event) => changes.push(event.detail))
    onB.addEventListener('self-revoked', () => selfRevoked++)

    new Membership({ catalog: a, selfId: 'a' }).revoke('b')
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(b.doc)))
    expect(changes).toEqual([{ joined: [], left: ['b'] }])
    expect(selfRevoked).toBe(1)
    expect(onB.selfRevoked).toBe(true)
    onB.close()
  })
})

describe('Membership under concurrent writes', () => {
  it('keeps a revocation that races with the device updating its own record', () => {
    const a = new Catalog()
    a.putDevice('a', { name: 'a', addedAt: 1 })
    a.putDevice('b', { name: 'b', addedAt: 2 })
    const b = new Catalog()
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc))
    const onA = new Membership({ catalog: a, selfId: 'a' })
    const onB = new Membership({ catalog: b, selfId: 'b' })
    // Concurrently: A revokes B, B refreshes its own record. Whichever write wins the `devices`
    // key, B stays revoked on both.
    onA.revoke('b')
    b.putDevice('b', { name: 'b', addedAt: 2, lastSeen: 99, addresses: ['/ip4/10.0.0.2/tcp/1'] })
    Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(b.doc))
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc))
    expect(onA.isMember('b')).toBe(false)
    expect(onB.selfRevoked).toBe(true)
    expect(onA.devices().find((d) => d.deviceId === 'b')?.revoked).toBe(true)

    // Re-admitting (a new pairing) lifts it.
    onA.admit('b', { name: 'b again', addedAt: 3 })
    expect(onA.isMember('b')).toBe(true)
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc))
    expect(onB.selfRevoked).toBe(false)
    onA.close()
    onB.close()
  })
})

describe('connection gater', () => {
  it('refuses strangers while no invite is open', async () => {
    const inviter = await peer('desktop')
    const stranger = await peer('stranger')
    stranger.gater.expectOutbound({ peerId: inviter.id })
    await expectRefused(stranger, inviter)
    expect(inviter.node.getConnections().length).toBe(0)
    // Nor does a node dial a stranger on its own.
    await expect(
      inviter.node.dial(stranger.node.peerId, { signal: AbortSignal.timeout(10_000) }),
    ).rejects.toThrow(/gater/)
  })

  it('lets strangers in while an invite is open, to reach pairing and nothing else', async () => {
    const inviter = await peer('desktop', { catalogSync: true })
    const stranger = await peer('stranger')
    const member = await peer('laptop')
    await pairUp(inviter, member)

    await inviter.pairing.createInvite()
    stranger.gater.expectOutbound({ peerId: inviter.id })
    const connection = await stranger.node.dial(inviter.node.getMultiaddrs(), {
      signal: AbortSignal.timeout(10_000),
    })

    // Pairing answers (a malformed request gets a refusal, not a reset).
    const pairingStream = await connection.newStream(PAIRING_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    const replies = await roundTrip(pairingStream, new Uint8Array([99]))
    expect(replies.map((reply) => decodeReply(reply))).toMatchObject([{ reason: 'malformed' }])

    // Members-only protocols reset the stranger's streams.
    const echo = await connection.newStream(ECHO_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    await expect(roundTrip(echo, new Uint8Array([1, 2, 3]))).rejects.toThrow()
    const sync = await connection.newStream(CATALOG_SYNC_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    await expect(roundTrip(sync, new Uint8Array([1, 2, 3]))).rejects.toThrow()

    // A member gets its echo.
    const memberEcho = await member.node.dialProtocol(inviter.node.peerId, ECHO_PROTOCOL, {
      signal: AbortSignal.timeout(5_000),
    })
    expect(await roundTrip(memberEcho, new Uint8Array([1, 2, 3]))).toEqual([new Uint8Array([1, 2, 3])])
  })

  it('closes connections from strangers when the last invite closes', async () => {
    const inviter = await peer('desktop')
    const stranger = await peer('stranger')
    const invite = await inviter.pairing.createInvite()
    stranger.gater.expectOutbound({ peerId: inviter.id })
    await stranger.node.dial(inviter.node.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    await waitFor(
      () => inviter.node.getConnections(stranger.node.peerId).length === 1,
      5_000,
      'the connection',
    )
    inviter.pairing.cancelInvite(invite.id)
    await waitFor(() => inviter.node.getConnections(stranger.node.peerId).length === 0, 8_000, 'the sweep')
  })

  it('closes a stranger connection that outstays its welcome', async () => {
    const inviter = await peer('desktop', { strangerConnectionTtlMs: 300 })
    const stranger = await peer('stranger')
    await inviter.pairing.createInvite()
    stranger.gater.expectOutbound({ peerId: inviter.id })
    await stranger.node.dial(inviter.node.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    const opened = performance.now()
    await waitFor(
      () => inviter.node.getConnections(stranger.node.peerId).length === 1,
      5_000,
      'the connection',
    )
    await waitFor(() => inviter.node.getConnections(stranger.node.peerId).length === 0, 5_000, 'the ttl')
    expect(performance.now() - opened).toBeGreaterThan(200)
  })
})

describe('the library relay', () => {
  it('stays connected: neither the stranger ttl nor the sweep after the last invite closes it', async () => {
    const relay = await peer('relay')
    const inviter = await peer('desktop', { strangerConnectionTtlMs: 300, relays: [relay.id] })
    const stranger = await peer('stranger')
    const invite = await inviter.pairing.createInvite()
    for (const other of [relay, stranger]) {
      other.gater.expectOutbound({ peerId: inviter.id })
      await other.node.dial(inviter.node.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    }
    inviter.pairing.cancelInvite(invite.id)
    // The stranger's connection goes (ttl and sweep); the relay's, opened the same way, stays.
    await waitFor(() => inviter.node.getConnections(stranger.node.peerId).length === 0, 8_000, 'the sweep')
    await new Promise((resolve) => setTimeout(resolve, STRANGER_SWEEP_DELAY_MS + 500))
    expect(inviter.node.getConnections(relay.node.peerId)).toHaveLength(1)
  })
})

describe('dialling WebRTC-Direct', () => {
  it('is refused when the gater is told not to (Node devices), allowed by default (browsers)', () => {
    const membership = { isMember: () => true, isRevoked: () => false }
    const invites = { hasOpen: () => false, recentlyClosed: () => false }
    const direct = multiaddr(
      '/ip4/127.0.0.1/udp/7740/webrtc-direct/certhash/uEiAvlZ_yelfx3PRj_jlv62Su9izCEK4Hk2jkLZPjfZ403Q',
    )
    const tcp = multiaddr('/ip4/127.0.0.1/tcp/7740')
    const node = new AccessGater({ membership, invites, dialWebRtcDirect: false })
    expect(node.denyDialMultiaddr(direct)).toBe(true)
    expect(node.denyDialMultiaddr(tcp)).toBe(false)
    const browser = new AccessGater({ membership, invites })
    expect(browser.denyDialMultiaddr(direct)).toBe(false)
  })
})

describe('revocation', () => {
  it('closes connections to a revoked device and refuses it from then on', async () => {
    const inviter = await peer('desktop')
    const joiner = await peer('laptop')
    await pairUp(inviter, joiner)
    expect(inviter.node.getConnections(joiner.node.peerId).length).toBeGreaterThan(0)
    cleanups.push(enforceRevocations(inviter.node, inviter.membership, { graceMs: 50 }))
    let selfRevoked = false
    joiner.membership.addEventListener('self-revoked', () => {
      selfRevoked = true
    })

    inviter.membership.revoke(joiner.id)
    expect(inviter.gater.isAdmitted(joiner.id)).toBe(false)
    await waitFor(() => inviter.node.getConnections(joiner.node.peerId).length === 0, 5_000, 'the cut-off')
    await waitFor(
      () => joiner.node.getConnections(inviter.node.peerId).length === 0,
      5_000,
      'the joiner to notice',
    )

    // The joiner still counts the inviter as a member, dials, and is refused (the used invite's
    // grace admits only strangers, not revoked devices).
    await expectRefused(joiner, inviter)
    await expect(
      inviter.node.dial(joiner.node.peerId, { signal: AbortSignal.timeout(10_000) }),
    ).rejects.toThrow(/gater/)

    // When the update reaches it (catalog sync; here by hand), the revoked device learns it.
    Y.applyUpdate(
      joiner.catalog.doc,
      Y.encodeStateAsUpdate(inviter.catalog.doc, Y.encodeStateVector(joiner.catalog.doc)),
    )
    expect(selfRevoked).toBe(true)
    expect(joiner.membership.selfRevoked).toBe(true)
  })

  it('admits a revoked device again through a new invite', async () => {
    const inviter = await peer('desktop')
    const joiner = await peer('laptop')
    await pairUp(inviter, joiner)
    inviter.membership.revoke(joiner.id)
    await inviter.node.hangUp(joiner.node.peerId)
    await waitFor(() => joiner.node.getConnections(inviter.node.peerId).length === 0, 5_000, 'the hang-up')
    await pairUp(inviter, joiner)
    expect(inviter.membership.isMember(joiner.id)).toBe(true)
  })
})
