import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { encodeFrame, FrameKind, SyncSession } from '../../src/crdt/sync/index.ts'
import {
  CATALOG_SYNC_PROTOCOL,
  type CatalogSync,
  catalogSync,
} from '../../src/node/protocols/catalog-sync/index.ts'
import { readMessages, writeMessage } from '../../src/node/protocols/stream-io.ts'
import { connect, createTestNode, type TestTransport, waitFor } from '../helpers/libp2p.ts'

const LIBRARY = 'library-test'

interface Peer {
  node: Libp2p<{ catalogSync: CatalogSync }>
  sync: CatalogSync
  doc: Y.Doc
  id: string
}

const running: Libp2p[] = []

afterEach(async () => {
  await Promise.all(running.splice(0).map((node) => node.stop()))
})

async function startPeer(
  transport: TestTransport,
  options: { doc?: Y.Doc; allowed?: Set<string> | 'all'; privateKey?: PrivateKey; libraryId?: string } = {},
): Promise<Peer> {
  const doc = options.doc ?? new Y.Doc()
  const allowed = options.allowed ?? 'all'
  const node = await createTestNode({
    transport,
    privateKey: options.privateKey,
    services: {
      catalogSync: catalogSync({
        doc,
        libraryId: options.libraryId ?? LIBRARY,
        isAllowed: (peerId) => allowed === 'all' || allowed.has(peerId),
      }),
    },
  })
  running.push(node)
  return { node, sync: node.services.catalogSync, doc, id: node.peerId.toString() }
}

async function stopPeer(peer: Peer): Promise<void> {
  running.splice(running.indexOf(peer.node), 1)
  await peer.node.stop()
}

function tracks(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap('tracks')
}

function fillTracks(doc: Y.Doc, prefix: string, count: number): void {
  doc.transact(() => {
    for (let i = 0; i < count; i++) {
      tracks(doc).set(`${prefix}-${i}`, {
        title: `Title ${i}`,
        artist: `Artist ${i % 50}`,
        durationMs: 180_000 + i,
      })
    }
  })
}

async function syncedPair(a: Peer, b: Peer): Promise<void> {
  const signal = AbortSignal.timeout(15_000)
  await connect(a.node, b.node)
  await Promise.all([a.sync.syncedWith(b.id, { signal }), b.sync.syncedWith(a.id, { signal })])
}

function statesEqual(a: Y.Doc, b: Y.Doc): boolean {
  return Buffer.compare(Y.encodeStateVector(a), Y.encodeStateVector(b)) === 0
}

function syncStreamOf(node: Libp2p, peer: string): Stream | undefined {
  for (const connection of node.getConnections()) {
    if (connection.remotePeer.toString() !== peer) continue
    const stream = connection.streams.find((s) => s.protocol === CATALOG_SYNC_PROTOCOL && s.status === 'open')
    if (stream !== undefined) return stream
  }
  return undefined
}

/** Collects what a raw stream receives until it ends, and how it ended. */
async function drain(stream: Stream): Promise<{ messages: number; error?: Error }> {
  let messages = 0
  try {
    for await (const _ of readMessages(stream, { maxMessageLength: 4 * 1024 * 1024 })) messages++
    return { messages }
  } catch (err) {
    return { messages, error: err as Error }
  }
}

describe.each<TestTransport>(['tcp', 'memory'])('catalog sync over %s', (transport) => {
  it('syncs a 5k-entry catalog to a new device and merges both states', async () => {
    const a = await startPeer(transport)
    const b = await startPeer(transport)
    fillTracks(a.doc, 'a', 5_000)
    fillTracks(b.doc, 'b', 50)
    await syncedPair(a, b)
    expect(tracks(b.doc).size).toBe(5_050)
    expect(tracks(a.doc).size).toBe(5_050)
    expect(statesEqual(a.doc, b.doc)).toBe(true)
    expect(a.sync.getPeers()).toEqual([b.id])
    expect(b.sync.getPeers()).toEqual([a.id])
    // One stream per pair, whoever dialled.
    const streams = [...a.node.getConnections(), ...b.node.getConnections()].flatMap((c) =>
      c.streams.filter((s) => s.protocol === CATALOG_SYNC_PROTOCOL),
    )
    expect(streams).toHaveLength(2) // the same stream, seen from both ends
  })

  it('propagates live edits both ways, with the peer as origin', async () => {
    const a = await startPeer(transport)
    const b = await startPeer(transport)
    await syncedPair(a, b)
    const originsAtB: unknown[] = []
    b.doc.on('update', (_u: Uint8Array, origin: unknown) => originsAtB.push(origin))
    tracks(a.doc).set('from-a', { title: 'A' })
    await waitFor(() => tracks(b.doc).has('from-a'), 5_000, 'edit from a')
    expect(originsAtB).toEqual([a.id])
    tracks(b.doc).set('from-b', { title: 'B' })
    await waitFor(() => tracks(a.doc).has('from-b'), 5_000, 'edit from b')
    tracks(a.doc).delete('from-a')
    await waitFor(() => !tracks(b.doc).has('from-a'), 5_000, 'delete from a')
    // Many small transactions, as a scanner committing track by track would make.
    for (let i = 0; i < 2_000; i++) tracks(a.doc).set(`small-${i}`, { title: `${i}` })
    await waitFor(() => tracks(b.doc).has('small-1999'), 10_000, 'many small edits')
    expect(statesEqual(a.doc, b.doc)).toBe(true)
  })

  it('relays edits through a middle device (a - b - c)', async () => {
    const a = await startPeer(transport)
    const b = await startPeer(transport)
    const c = await startPeer(transport)
    await syncedPair(a, b)
    await syncedPair(c, b)
    tracks(a.doc).set('from-a', { title: 'A' })
    tracks(c.doc).set('from-c', { title: 'C' })
    await waitFor(() => tracks(c.doc).has('from-a') && tracks(a.doc).has('from-c'), 5_000, 'relayed edits')
    expect(a.node.getConnections(c.node.peerId)).toHaveLength(0)
  })

  it('merges concurrent offline edits after a restart with the same doc and key', async () => {
    const keyB = await generateKeyPair('Ed25519')
    const docB = new Y.Doc()
    const a = await startPeer(transport)
    const b = await startPeer(transport, { doc: docB, privateKey: keyB })
    fillTracks(a.doc, 'shared', 100)
    await syncedPair(a, b)

    await stopPeer(b)
    await waitFor(() => a.sync.getPeers().length === 0, 5_000, 'a to notice b left')
    tracks(a.doc).set('offline-a', { title: 'edited on a' })
    tracks(a.doc).set('shared-1', { title: 'retitled on a' })
    tracks(docB).set('offline-b', { title: 'edited on b' })
    tracks(docB).delete('shared-2')

    const b2 = await startPeer(transport, { doc: docB, privateKey: keyB })
    expect(b2.id).toBe(b.id)
    await syncedPair(b2, a)
    for (const doc of [a.doc, docB]) {
      expect(tracks(doc).get('offline-a')).toEqual({ title: 'edited on a' })
      expect(tracks(doc).get('offline-b')).toEqual({ title: 'edited on b' })
      expect(tracks(doc).get('shared-1')).toEqual({ title: 'retitled on a' })
      expect(tracks(doc).has('shared-2')).toBe(false)
    }
    expect(statesEqual(a.doc, docB)).toBe(true)
    tracks(docB).set('after-restart', { title: 'live again' })
    await waitFor(() => tracks(a.doc).has('after-restart'), 5_000, 'live edit after restart')
  })

  it('reopens a sync stream that dies while the connection lives', async () => {
    const a = await startPeer(transport)
    const b = await startPeer(transport)
    await syncedPair(a, b)
    const opener = a.id < b.id ? a : b
    const other = opener === a ? b : a
    const stream = syncStreamOf(opener.node, other.id)
    expect(stream).toBeDefined()
    const resynced = opener.sync.syncedWith(other.id, { signal: AbortSignal.timeout(10_000) })
    stream!.abort(new Error('simulated idle timeout'))
    await waitFor(() => !opener.sync.isSyncedWith(other.id) || syncStreamOf(opener.node, other.id) !== stream)
    tracks(other.doc).set('while-down', { title: 'x' })
    await resynced
    await waitFor(() => opener.sync.isSyncedWith(other.id), 10_000, 'reopened stream')
    await waitFor(() => tracks(opener.doc).has('while-down'), 10_000, 'edit made while the stream was down')
    tracks(opener.doc).set('after-reopen', { title: 'y' })
    await waitFor(() => tracks(other.doc).has('after-reopen'), 5_000, 'edit after reopen')
  })

  it('gives a device that is not allowed nothing, and leaves allowed ones unaffected', async () => {
    const allowedByA = new Set<string>()
    const a = await startPeer(transport, { allowed: allowedByA })
    const b = await startPeer(transport)
    const stranger = await startPeer(transport) // would happily sync with anyone
    allowedByA.add(b.id)
    fillTracks(a.doc, 'a', 200)
    await syncedPair(a, b)

    await connect(stranger.node, a.node)
    // Whoever would open the stream, a refuses: it does not open one and aborts an inbound one.
    const raw = await stranger.node.dialProtocol(a.node.peerId, CATALOG_SYNC_PROTOCOL)
    const rawResult = drain(raw)
    const step1 = new SyncSession({ doc: stranger.doc, libraryId: LIBRARY, origin: 'a' }).open()
    await writeMessage(raw, step1[0]!).catch(() => {})
    const { messages, error } = await rawResult
    expect(messages).toBe(0)
    expect(error).toBeDefined()
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(tracks(stranger.doc).size).toBe(0)
    expect(a.sync.getPeers()).toEqual([b.id])
    expect(a.sync.isSyncedWith(stranger.id)).toBe(false)

    tracks(a.doc).set('still-syncing', { title: 'yes' })
    await waitFor(() => tracks(b.doc).has('still-syncing'), 5_000, 'a and b still in sync')
    expect(tracks(stranger.doc).size).toBe(0)
  })

  it('rejects a frame for another library', async () => {
    const allowedByA = new Set<string>()
    const a = await startPeer(transport, { allowed: allowedByA })
    // A plain node (no sync service) that a allows, speaking the protocol by hand.
    const device = await createTestNode({ transport })
    running.push(device)
    allowedByA.add(device.peerId.toString())
    tracks(a.doc).set('mine', { title: 'kept' })
    await connect(device, a.node)

    const stream = await device.dialProtocol(a.node.peerId, CATALOG_SYNC_PROTOCOL)
    const result = drain(stream)
    const foreignDoc = new Y.Doc()
    tracks(foreignDoc).set('foreign', { title: 'should not arrive' })
    const foreign = new SyncSession({ doc: foreignDoc, libraryId: 'another-library', origin: 'a' })
    const update = Y.encodeStateAsUpdate(foreignDoc)
    for (const frame of foreign.encodeUpdate(update)) await writeMessage(stream, frame).catch(() => {})
    const { error } = await result
    expect(error).toBeDefined() // a reset the stream
    expect(tracks(a.doc).has('foreign')).toBe(false)
    expect(tracks(a.doc).get('mine')).toEqual({ title: 'kept' })
    await waitFor(() => a.sync.getPeers().length === 0, 5_000, 'a to drop the stream')
  })

  it('accepts a hand-made frame for the right library (the raw client above is valid)', async () => {
    const allowedByA = new Set<string>()
    const a = await startPeer(transport, { allowed: allowedByA })
    const device = await createTestNode({ transport })
    running.push(device)
    allowedByA.add(device.peerId.toString())
    await connect(device, a.node)
    const stream = await device.dialProtocol(a.node.peerId, CATALOG_SYNC_PROTOCOL)
    const doc = new Y.Doc()
    tracks(doc).set('hand-made', { title: 'ok' })
    const session = new SyncSession({ doc, libraryId: LIBRARY, origin: 'a' })
    for (const frame of session.encodeUpdate(Y.encodeStateAsUpdate(doc))) await writeMessage(stream, frame)
    await writeMessage(
      stream,
      encodeFrame({
        libraryId: LIBRARY,
        kind: FrameKind.Keepalive,
        chunkIndex: 0,
        chunkCount: 1,
        messageLength: 0,
        payload: new Uint8Array(0),
      }),
    )
    await waitFor(() => tracks(a.doc).has('hand-made'), 5_000, 'hand-made update')
    stream.abort(new Error('done'))
  })

  it('syncWith starts syncing on a connection that predates the device-list entry (join)', async () => {
    const allowedByA = new Set<string>()
    const allowedByB = new Set<string>()
    const a = await startPeer(transport, { allowed: allowedByA })
    const b = await startPeer(transport, { allowed: allowedByB })
    fillTracks(a.doc, 'a', 1_000)
    await connect(b.node, a.node)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(a.sync.getPeers()).toEqual([])
    // Pairing added each device to the other's list; the connection was identified before that.
    allowedByA.add(b.id)
    allowedByB.add(a.id)
    await b.sync.syncWith(a.id, { signal: AbortSignal.timeout(10_000) })
    expect(tracks(b.doc).size).toBe(1_000)
    tracks(b.doc).set('from-b', { title: 'B' })
    await waitFor(() => tracks(a.doc).has('from-b'), 5_000, 'edit from b')
  })

  it('syncWith from both sides at once, racing the automatic open, ends with one stream', async () => {
    const a = await startPeer(transport)
    const b = await startPeer(transport)
    await connect(a.node, b.node)
    // The dialler's connection resolves first; b registers its inbound one a moment later.
    await waitFor(() => b.node.getConnections(a.node.peerId).length > 0, 5_000, 'b to see the connection')
    const signal = AbortSignal.timeout(10_000)
    await Promise.all([a.sync.syncWith(b.id, { signal }), b.sync.syncWith(a.id, { signal })])
    await new Promise((resolve) => setTimeout(resolve, 300))
    const open = [...a.node.getConnections(), ...b.node.getConnections()].flatMap((c) =>
      c.streams.filter((s) => s.protocol === CATALOG_SYNC_PROTOCOL && s.status === 'open'),
    )
    expect(open).toHaveLength(2) // one stream, seen from both ends
    tracks(a.doc).set('x', { title: 'x' })
    await waitFor(() => tracks(b.doc).has('x'), 5_000, 'edit over the surviving stream')
  })

  it('syncWith rejects when the peer refuses us', async () => {
    const a = await startPeer(transport, { allowed: new Set() })
    const b = await startPeer(transport)
    await connect(b.node, a.node)
    await expect(b.sync.syncWith(a.id, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow(
      /ended before the exchange completed/,
    )
    await expect(a.sync.syncWith(b.id)).rejects.toThrow(/not allowed/)
  })

  it('stops cleanly: no streams, no listeners, pending waits rejected', async () => {
    const a = await startPeer(transport)
    const b = await startPeer(transport, { allowed: new Set() })
    await connect(a.node, b.node)
    const waiting = a.sync.syncedWith(b.id).then(
      () => undefined,
      (err: Error) => err,
    )
    await stopPeer(a)
    expect((await waiting)?.name).toBe('ServiceStoppedError')
    expect(a.sync.getPeers()).toEqual([])
    // The doc no longer feeds the stopped service.
    expect(() => tracks(a.doc).set('after-stop', { title: 'z' })).not.toThrow()
    await expect(a.sync.syncedWith(b.id)).rejects.toThrow(/not running/)
  })
})
