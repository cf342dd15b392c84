import { streamPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeFrame, FrameKind, SyncSession } from '../../src/crdt/sync/index.ts'
import { FrameQueue } from '../../src/node/protocols/catalog-sync/frame-queue.ts'
import { SendQueueOverflowError } from '../../src/node/protocols/catalog-sync/index.ts'
import { PeerLink, type PeerLinkInit } from '../../src/node/protocols/catalog-sync/peer-link.ts'
import { readMessages } from '../../src/node/protocols/stream-io.ts'

const LIBRARY = 'lib-link'

async function linkPair(overrides: Partial<PeerLinkInit> = {}) {
  const [local, remote] = await streamPair()
  const closed: Array<Error | undefined> = []
  const link = new PeerLink({
    peerId: 'remote-peer',
    stream: local,
    session: new SyncSession({ doc: new Y.Doc(), libraryId: LIBRARY, origin: 'remote-peer' }),
    log: local.log,
    maxStreamMessageBytes: 4 * 1024 * 1024,
    maxQueuedBytes: 64 * 1024 * 1024,
    keepaliveIntervalMs: 0,
    onSynced: () => {},
    onClosed: (_link, error) => closed.push(error),
    ...overrides,
  })
  return { link, local, remote, closed }
}

describe('PeerLink', () => {
  it('opens with SyncStep1 and sends keepalives on an idle stream', async () => {
    const { link, remote } = await linkPair({ keepaliveIntervalMs: 40 })
    link.start()
    const kinds: FrameKind[] = []
    for await (const bytes of readMessages(remote, { maxMessageLength: 1 << 20 })) {
      kinds.push(decodeFrame(bytes).kind)
      if (kinds.length === 3) break
    }
    expect(kinds).toEqual([FrameKind.SyncStep1, FrameKind.Keepalive, FrameKind.Keepalive])
    await link.close({ signal: AbortSignal.timeout(100) })
  })

  it('aborts the stream when too much waits for a slow peer', async () => {
    const { link, local, closed } = await linkPair({ maxQueuedBytes: 1000 })
    link.start()
    link.send([new Uint8Array(600), new Uint8Array(600)])
    expect(link.closed).toBe(true)
    expect(closed[0]).toBeInstanceOf(SendQueueOverflowError)
    expect(local.status).toBe('aborted')
  })

  it('aborts on a frame it cannot accept and reports the error', async () => {
    const { link, remote, closed } = await linkPair()
    link.start()
    remote.send(Uint8Array.from([3, 0xde, 0xad, 0xbe])) // a length-prefixed 3-byte garbage frame
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(link.closed).toBe(true)
    expect(closed[0]?.name).toBe('MalformedFrameError')
  })
})

describe('FrameQueue', () => {
  it('is a FIFO that counts bytes, across its compactions', () => {
    const queue = new FrameQueue()
    for (let i = 0; i < 5000; i++) queue.push(new Uint8Array(i % 7).fill(i & 0xff))
    let expectedBytes = queue.bytes
    for (let i = 0; i < 3000; i++) {
      const frame = queue.shift()!
      expect(frame.length).toBe(i % 7)
      if (frame.length > 0) expect(frame[0]).toBe(i & 0xff)
      expectedBytes -= frame.length
      expect(queue.bytes).toBe(expectedBytes)
    }
    queue.push(Uint8Array.from([1, 2, 3]))
    expect(queue.length).toBe(2001)
    let last: Uint8Array | undefined
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) last = next
    expect(last).toEqual(Uint8Array.from([1, 2, 3]))
    expect(queue.bytes).toBe(0)
    expect(queue.length).toBe(0)
  })
})
