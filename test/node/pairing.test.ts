import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  AlreadyInLibraryError,
  InviteBurntError,
  InviteExpiredError,
  InviterNotAuthenticError,
  InviteUsedError,
  PAIRING_PROTOCOL,
  type PairedDetail,
  PairingTimeoutError,
  WrongInviteError,
} from '../../src/node/protocols/pairing/index.ts'
import { formatCode, parseInvite } from '../../src/node/protocols/pairing/invite.ts'
import {
  decodeReply,
  encodeAccept,
  encodeJoinRequest,
  MessageKind,
} from '../../src/node/protocols/pairing/messages.ts'
import { fromHex } from '../../src/node/protocols/pairing/proofs.ts'
import { readMessages, writeMessage } from '../../src/node/protocols/stream-io.ts'
import { waitFor } from '../helpers/libp2p.ts'
import {
  type PairingPeer,
  type PairingPeerOptions,
  putTracks,
  startPairingPeer,
  stopPairingPeer,
} from '../helpers/pairing-nodes.ts'

const running: PairingPeer[] = []
const servers: Server[] = []

afterEach(async () => {
  await Promise.all(running.splice(0).map(stopPairingPeer))
  for (const server of servers.splice(0)) server.close()
})

async function peer(name: string, options: Omit<PairingPeerOptions, 'name'> = {}): Promise<PairingPeer> {
  const started = await startPairingPeer({ name, ...options })
  running.push(started)
  return started
}

function tcpCodeAddress(node: PairingPeer): { ip: string; port: number } {
  const address = node.node.getMultiaddrs()[0]!.getComponents()
  return { ip: address[0]!.value!, port: Number(address[1]!.value) }
}

function deviceIds(node: PairingPeer): string[] {
  return [...node.catalog.devices.keys()].sort()
}

function paired(node: PairingPeer): PairedDetail[] {
  const events: PairedDetail[] = []
  node.pairing.addEventListener('paired', (event) => events.push(event.detail))
  return events
}

describe('pairing', () => {
  it('joins with a link: same library id, device list and catalog on both', async () => {
    const inviter = await peer('living room')
    const joiner = await peer('laptop')
    putTracks(inviter.catalog, 5)
    putTracks(joiner.catalog, 0)
    const inviterEvents = paired(inviter)
    const joinerEvents = paired(joiner)

    const invite = await inviter.pairing.createInvite()
    expect(inviter.pairing.openInvites()).toEqual([{ id: invite.id, expiresAt: invite.expiresAt }])
    const result = await joiner.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })

    const libraryId = inviter.catalog.libraryId!
    expect(result).toEqual({ libraryId, inviterPeerId: inviter.id, inviterName: 'living room' })
    expect(joiner.catalog.libraryId).toBe(libraryId)
    expect(joiner.catalog.trackCount).toBe(5)
    expect(joiner.catalog.getTrack('track-3')?.title).toBe('Title 3')
    expect(deviceIds(inviter)).toEqual([inviter.id, joiner.id].sort())
    expect(deviceIds(joiner)).toEqual(deviceIds(inviter))
    expect(inviter.catalog.devices.get(joiner.id)?.name).toBe('laptop')
    expect(joiner.catalog.devices.get(inviter.id)?.name).toBe('living room')
    expect(inviter.membership.isMember(joiner.id)).toBe(true)
    expect(joiner.membership.isMember(inviter.id)).toBe(true)
    expect(inviter.pairing.openInvites()).toEqual([])

    await waitFor(() => inviterEvents.length === 1, 5_000, 'the inviter paired event')
    expect(inviterEvents).toEqual([{ peerId: joiner.id, name: 'laptop', role: 'inviter', libraryId }])
    expect(joinerEvents).toEqual([{ peerId: inviter.id, name: 'living room', role: 'joiner', libraryId }])
    // The connection stays up for catalog sync.
    expect(joiner.node.getConnections(inviter.node.peerId).length).toBeGreaterThan(0)

    // Once the joiner's device list reaches the inviter (catalog sync; here by hand), both docs
    // agree on the library id: the joiner's write is causally later than both initial ones.
    Y.applyUpdate(
      inviter.catalog.doc,
      Y.encodeStateAsUpdate(joiner.catalog.doc, Y.encodeStateVector(inviter.catalog.doc)),
    )
    expect(inviter.catalog.libraryId).toBe(libraryId)
  })

  it('joins with a typed code, learning the inviter from the handshake', async () => {
    const inviter = await peer('desktop')
    const joiner = await peer('phone')
    putTracks(inviter.catalog, 3)
    const invite = await inviter.pairing.createInvite()
    expect(invite.code).toBeDefined()
    const typed = invite.code!.toLowerCase().replaceAll('-', ' ')
    const result = await joiner.pairing.join(typed, { signal: AbortSignal.timeout(20_000) })
    expect(result.inviterPeerId).toBe(inviter.id)
    expect(joiner.catalog.libraryId).toBe(inviter.catalog.libraryId)
    expect(joiner.catalog.trackCount).toBe(3)
    expect(deviceIds(joiner)).toEqual([inviter.id, joiner.id].sort())
  })

  it('sends the catalog as the updates the inviter has stored, applied in order', async () => {
    const inviter = await peer('server', { sendStoredUpdates: true })
    const joiner = await peer('laptop')
    putTracks(inviter.catalog, 3)
    inviter.catalog.transact(() => {
      // Over a chunk, so that a part spans several messages.
      for (let i = 0; i < 1200; i++) inviter.catalog.covers.set(`c-${i}`, 'y'.repeat(1000))
    })
    inviter.catalog.covers.delete('c-7')
    const invite = await inviter.pairing.createInvite()
    await joiner.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })
    expect(joiner.catalog.trackCount).toBe(3)
    expect(joiner.catalog.covers.size).toBe(1199)
    expect(joiner.catalog.covers.has('c-7')).toBe(false)
  })

  it('sends a large catalog in chunks', async () => {
    const inviter = await peer('server')
    const joiner = await peer('laptop')
    inviter.catalog.transact(() => {
      // ~3 MB of state: several 1 MiB chunks.
      for (let i = 0; i < 3000; i++) inviter.catalog.covers.set(`big-${i}`, 'x'.repeat(1000) + i)
    })
    const invite = await inviter.pairing.createInvite()
    await joiner.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })
    expect(joiner.catalog.covers.size).toBe(3000)
    expect(joiner.catalog.covers.get('big-2999')).toBe(`${'x'.repeat(1000)}2999`)
  })

  it('refuses a wrong secret with WrongInviteError and leaves the joiner as it was', async () => {
    const inviter = await peer('desktop')
    const joiner = await peer('phone')
    await inviter.pairing.createInvite()
    const ownLibrary = joiner.catalog.libraryId
    const forged = formatCode(crypto.getRandomValues(new Uint8Array(16)), tcpCodeAddress(inviter))
    await expect(joiner.pairing.join(forged, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
      WrongInviteError,
    )
    expect(joiner.catalog.libraryId).toBe(ownLibrary)
    expect(inviter.membership.isMember(joiner.id)).toBe(false)
    // The joiner does not keep a connection to a device that is not a member.
    await waitFor(
      () => joiner.node.getConnections(inviter.node.peerId).length === 0,
      5_000,
      'the connection to close',
    )
  })

  it('refuses an expired invite with InviteExpiredError', async () => {
    const inviter = await peer('desktop')
    const joiner = await peer('phone')
    const invite = await inviter.pairing.createInvite({ ttlMs: 30 })
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(inviter.pairing.openInvites()).toEqual([])
    await expect(joiner.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
      InviteExpiredError,
    )
    expect(inviter.membership.isMember(joiner.id)).toBe(false)
  })

  it('refuses a link whose expiry is long past without dialling', async () => {
    const joiner = await peer('phone')
    const inviter = await peer('desktop')
    const invite = await inviter.pairing.createInvite()
    const parsed = parseInvite(invite.link)
    if (parsed.form !== 'link') throw new Error('expected a link')
    await expect(joiner.pairing.join({ ...parsed, expiresAt: Date.now() - 3_600_000 })).rejects.toThrow(
      InviteExpiredError,
    )
    expect(joiner.node.getConnections()).toEqual([])
  })

  it('refuses a used invite with InviteUsedError, but serves the same device again', async () => {
    const inviter = await peer('desktop')
    const first = await peer('phone')
    const second = await peer('tablet')
    const invite = await inviter.pairing.createInvite()
    await first.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })
    await expect(second.pairing.join(invite.code!, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
      InviteUsedError,
    )
    expect(inviter.membership.isMember(second.id)).toBe(false)
    // The first device asking again (say its first reply got lost) gets the catalog again.
    const again = await first.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })
    expect(again.libraryId).toBe(inviter.catalog.libraryId)
  })

  it('burns an invite after 10 wrong proofs', async () => {
    const inviter = await peer('desktop', { throttle: { baseDelayMs: 1, maxDelayMs: 5 } })
    const attacker = await peer('attacker')
    const joiner = await peer('phone')
    const invite = await inviter.pairing.createInvite()
    // A hand-rolled client: its own gater must let it dial a stranger.
    attacker.gater.expectOutbound({ peerId: inviter.id })
    const connection = await attacker.node.dial(inviter.node.getMultiaddrs(), {
      signal: AbortSignal.timeout(10_000),
    })
    for (let i = 0; i < 10; i++) {
      const stream = await connection.newStream(PAIRING_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const request = encodeJoinRequest({
        inviteId: fromHex(invite.id)!,
        deviceName: 'guess',
        proof: crypto.getRandomValues(new Uint8Array(32)),
      })
      await writeMessage(stream, request)
      await stream.close()
      for await (const message of readMessages(stream, { maxMessageLength: 4096 })) {
        const reply = decodeReply(message)
        expect(reply.kind === MessageKind.Refuse && reply.reason).toBe('wrong-invite')
      }
    }
    expect(inviter.pairing.openInvites()).toEqual([])
    await expect(joiner.pairing.join(invite.link, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
      InviteBurntError,
    )
  })

  it('slows down repeated wrong attempts', async () => {
    const base = 100
    const inviter = await peer('desktop', { throttle: { baseDelayMs: base, maxDelayMs: 10_000 } })
    const guesser = await peer('guesser')
    await inviter.pairing.createInvite()
    const durations: number[] = []
    for (let i = 0; i < 5; i++) {
      const forged = formatCode(crypto.getRandomValues(new Uint8Array(16)), tcpCodeAddress(inviter))
      const started = performance.now()
      await expect(guesser.pairing.join(forged, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
        WrongInviteError,
      )
      durations.push(performance.now() - started)
    }
    // Each attempt waits at least base·1, ·2, ·4, ·8, ·16 before the answer. A lower bound only: a busy
    // machine makes attempts slower, never faster, so this cannot fail for want of CPU.
    const summary = durations.map(Math.round).join(', ')
    for (let i = 0; i < durations.length; i++) {
      expect(durations[i]!, `attempt ${i + 1}: ${summary} ms`).toBeGreaterThanOrEqual(base * 2 ** i - 5)
    }
  })

  it('does not join a second library while in one', async () => {
    const inviter = await peer('desktop')
    const joiner = await peer('phone')
    joiner.catalog.putDevice('12D3KooWSomeOtherDeviceOfThePhonesLibrary', { name: 'old tablet', addedAt: 1 })
    const invite = await inviter.pairing.createInvite()
    await expect(joiner.pairing.join(invite.link)).rejects.toThrow(AlreadyInLibraryError)
  })

  it('times out against an address that never answers, and obeys the caller signal', async () => {
    const joiner = await peer('phone')
    const sockets: Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    servers.push(silent)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    const code = formatCode(new Uint8Array(16).fill(1), { ip: '127.0.0.1', port })

    await expect(joiner.pairing.join(code, { timeoutMs: 300 })).rejects.toThrow(PairingTimeoutError)
    const controller = new AbortController()
    const reason = new Error('user pressed ctrl-c')
    setTimeout(() => controller.abort(reason), 100)
    await expect(joiner.pairing.join(code, { signal: controller.signal })).rejects.toBe(reason)
    for (const socket of sockets) socket.destroy()
  })

  it('does not trust a device that cannot prove the secret', async () => {
    const impostor = await peer('impostor')
    const joiner = await peer('phone')
    // The impostor answers pairing requests with an accept that carries a made-up proof.
    await impostor.node.handle(
      PAIRING_PROTOCOL,
      async (stream) => {
        for await (const _ of readMessages(stream, { maxMessageLength: 4096 })) break
        const state = Y.encodeStateAsUpdate(new Y.Doc())
        await writeMessage(
          stream,
          encodeAccept({
            libraryId: 'evil',
            inviterName: 'trust me',
            proof: crypto.getRandomValues(new Uint8Array(32)),
            stateBytes: state.length,
            stateParts: [state.length],
          }),
        )
        await writeMessage(stream, state)
        await stream.close()
      },
      { force: true },
    )
    await impostor.pairing.createInvite()
    const ownLibrary = joiner.catalog.libraryId
    const code = formatCode(crypto.getRandomValues(new Uint8Array(16)), tcpCodeAddress(impostor))
    await expect(joiner.pairing.join(code, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
      InviterNotAuthenticError,
    )
    expect(joiner.catalog.libraryId).toBe(ownLibrary)
    expect(deviceIds(joiner)).toEqual([joiner.id])
  })
})
