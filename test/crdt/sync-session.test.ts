import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import {
  decodeFrame,
  encodeFrame,
  FrameKind,
  LibraryMismatchError,
  MalformedFrameError,
  MessageTooLargeError,
  SyncSession,
  type SyncSessionInit,
  UpdateRejectedError,
} from '../../src/crdt/sync/index.ts'

const LIBRARY = 'lib-1'

function session(doc: Y.Doc, origin: string, extra: Partial<SyncSessionInit> = {}): SyncSession {
  return new SyncSession({ doc, libraryId: LIBRARY, origin, ...extra })
}

/** Delivers frames between two sessions, in order, until neither has anything left to say. */
function exchange(a: SyncSession, b: SyncSession, fromA: Uint8Array[], fromB: Uint8Array[] = []) {
  let toB = [...fromA]
  let toA = [...fromB]
  const synced = { a: 0, b: 0 }
  let frames = 0
  while (toA.length > 0 || toB.length > 0) {
    const nextToA: Uint8Array[] = []
    const nextToB: Uint8Array[] = []
    for (const bytes of toB) {
      frames++
      const result = b.receive(bytes)
      nextToA.push(...result.replies)
      if (result.becameSynced) synced.b++
    }
    for (const bytes of toA) {
      frames++
      const result = a.receive(bytes)
      nextToB.push(...result.replies)
      if (result.becameSynced) synced.a++
    }
    toA = nextToA
    toB = nextToB
  }
  return { synced, frames }
}

function fillTracks(doc: Y.Doc, prefix: string, count: number): void {
  const tracks = doc.getMap('tracks')
  doc.transact(() => {
    for (let i = 0; i < count; i++) {
      tracks.set(`${prefix}-${i}`, {
        title: `Track ${i}`,
        artist: `Artist ${i % 97}`,
        album: `Album ${i % 13}`,
      })
    }
  })
}

function wellFramed(kind: FrameKind, payload: Uint8Array): Uint8Array {
  return encodeFrame({
    libraryId: LIBRARY,
    kind,
    chunkIndex: 0,
    chunkCount: 1,
    messageLength: payload.length,
    payload,
  })
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('SyncSession', () => {
  it('syncs two diverged docs both ways and reports synced once on each side', () => {
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    fillTracks(docA, 'a', 500)
    fillTracks(docB, 'b', 300)
    const a = session(docA, 'peer-b')
    const b = session(docB, 'peer-a')
    const { synced } = exchange(a, b, a.open(), b.open())
    expect(synced).toEqual({ a: 1, b: 1 })
    expect(a.synced && b.synced).toBe(true)
    expect(docA.getMap('tracks').size).toBe(800)
    expect(Y.encodeStateVector(docA)).toEqual(Y.encodeStateVector(docB))
  })

  it('applies peer updates with the peer as transaction origin', () => {
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    const a = session(docA, 'peer-b')
    const b = session(docB, 'peer-a')
    exchange(a, b, a.open(), b.open())
    const origins: unknown[] = []
    docA.on('update', (_update: Uint8Array, origin: unknown) => origins.push(origin))
    const updates: Uint8Array[] = []
    docB.on('update', (update: Uint8Array) => updates.push(update))
    docB.getMap('tracks').set('x', { title: 'X' })
    exchange(
      b,
      a,
      updates.flatMap((u) => b.encodeUpdate(u)),
    )
    expect(docA.getMap('tracks').get('x')).toEqual({ title: 'X' })
    expect(origins).toEqual(['peer-b'])
  })

  it('splits a large state into bounded frames', () => {
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    fillTracks(docA, 'a', 20_000)
    const a = session(docA, 'peer-b', { chunkBytes: 64 * 1024 })
    const b = session(docB, 'peer-a', { chunkBytes: 64 * 1024 })
    const step2 = a.receive(b.open()[0]!).replies
    expect(step2.length).toBeGreaterThan(5)
    for (const bytes of step2) {
      expect(bytes.length).toBeLessThanOrEqual(64 * 1024 + 64)
      expect(decodeFrame(bytes).kind).toBe(FrameKind.SyncStep2)
    }
    exchange(a, b, [...step2, ...a.open()])
    expect(docB.getMap('tracks').size).toBe(20_000)
  })

  it('refuses a message over its size bound', () => {
    const docA = new Y.Doc()
    fillTracks(docA, 'a', 2_000)
    const a = session(docA, 'peer-b', { chunkBytes: 4096 })
    const b = session(new Y.Doc(), 'peer-a', { maxMessageBytes: 10_000 })
    const [first] = a.receive(b.open()[0]!).replies
    expect(() => b.receive(first!)).toThrow(MessageTooLargeError)
  })

  it('rejects a frame for another library', () => {
    const other = new SyncSession({ doc: new Y.Doc(), libraryId: 'lib-2', origin: 'x' })
    const mine = session(new Y.Doc(), 'peer')
    expect(() => mine.receive(other.open()[0]!)).toThrow(LibraryMismatchError)
  })

  it('rejects garbage, kind mismatches and truncated y-protocols messages', () => {
    const s = session(new Y.Doc(), 'peer')
    expect(() => s.receive(Uint8Array.from([1, 2, 3]))).toThrow(MalformedFrameError)
    // A SyncStep1 message inside an Update frame.
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarUint8Array(encoder, Y.encodeStateVector(new Y.Doc()))
    expect(() => s.receive(wellFramed(FrameKind.Update, encoding.toUint8Array(encoder)))).toThrow(
      /message type 0/,
    )
    // An update whose declared body is longer than what follows.
    expect(() => s.receive(wellFramed(FrameKind.Update, Uint8Array.from([2, 50, 1, 2])))).toThrow(
      MalformedFrameError,
    )
    // Keepalive and SyncDone must be empty.
    expect(() => s.receive(wellFramed(FrameKind.SyncDone, Uint8Array.from([1])))).toThrow(MalformedFrameError)
    // A state vector that does not decode.
    expect(() =>
      s.receive(wellFramed(FrameKind.SyncStep1, Uint8Array.from([0, 3, 0xff, 0xff, 0xff]))),
    ).toThrow(MalformedFrameError)
  })

  it('reports an update the doc cannot apply as UpdateRejectedError', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {}) // y-protocols logs the failure itself
    const doc = new Y.Doc()
    const s = session(doc, 'peer')
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 2)
    encoding.writeVarUint8Array(encoder, Uint8Array.from([200, 1, 7, 7, 7, 7, 7, 7]))
    expect(() => s.receive(wellFramed(FrameKind.Update, encoding.toUint8Array(encoder)))).toThrow(
      UpdateRejectedError,
    )
    expect(doc.getMap('tracks').size).toBe(0)
  })

  it('answers keepalives with nothing', () => {
    const a = session(new Y.Doc(), 'peer-b')
    const b = session(new Y.Doc(), 'peer-a')
    expect(b.receive(a.keepalive()[0]!)).toEqual({ replies: [], becameSynced: false })
  })

  it('shares awareness states', () => {
    const docA = new Y.Doc()
    const docB = new Y.Doc()
    const awarenessA = new Awareness(docA)
    const awarenessB = new Awareness(docB)
    try {
      awarenessA.setLocalState({ device: 'laptop', playing: 'track-1' })
      const a = session(docA, 'peer-b', { awareness: awarenessA })
      const b = session(docB, 'peer-a', { awareness: awarenessB })
      exchange(a, b, a.open(), b.open())
      expect(awarenessB.getStates().get(docA.clientID)).toEqual({ device: 'laptop', playing: 'track-1' })
      awarenessA.setLocalStateField('playing', 'track-2')
      exchange(a, b, a.encodeAwareness([docA.clientID]))
      expect(awarenessB.getStates().get(docA.clientID)).toMatchObject({ playing: 'track-2' })
    } finally {
      awarenessA.destroy()
      awarenessB.destroy()
    }
  })
})
