/**
 * How long the catalog-sync protocol takes to bring an empty device up to a 100k-track catalog,
 * between two real libp2p nodes in this process (TCP on 127.0.0.1, noise, yamux).
 *
 *   node bench/sync-proto.ts [tracks=100000] [transport=tcp|memory]
 *
 * A measurement, not a test: it prints numbers and asserts only that the docs converged.
 */
import * as Y from 'yjs'
import { SyncSession } from '../src/crdt/sync/index.ts'
import { type CatalogSync, catalogSync } from '../src/node/protocols/catalog-sync/index.ts'
import { connect, createTestNode, type TestTransport } from '../test/helpers/libp2p.ts'

const TRACKS = Number(process.argv[2] ?? 100_000)
const TRANSPORT = (process.argv[3] ?? 'tcp') as TestTransport
const LIBRARY = 'bench-library'

function track(i: number) {
  return {
    title: `Track number ${i} of the library`,
    artist: `Artist ${i % 1_000}`,
    album: `Album ${i % 8_000} (Deluxe Edition)`,
    genre: ['Jazz', 'Rock', 'Classical', 'Electronic'][i % 4],
    year: 1960 + (i % 60),
    trackNo: (i % 12) + 1,
    discNo: 1,
    durationMs: 150_000 + ((i * 7919) % 200_000),
    codec: 'flac',
    sampleRate: 44_100,
    size: 20_000_000 + i,
    contentId: `b${i.toString(32).padStart(51, 'q')}`,
    addedAt: 1_700_000_000_000 + i,
  }
}

function elapsed(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

const built = process.hrtime.bigint()
const source = new Y.Doc()
const tracks = source.getMap('tracks')
source.transact(() => {
  for (let i = 0; i < TRACKS; i++) tracks.set(`track-${i}`, track(i))
})
const fullState = Y.encodeStateAsUpdate(source)
console.log(
  `built ${TRACKS} tracks in ${elapsed(built).toFixed(0)} ms; JSON per track ≈ ${JSON.stringify(track(12345)).length} B; full state ${mb(fullState.length)}`,
)

// The protocol alone, without a network: frame, reassemble, apply.
{
  const target = new Y.Doc()
  const a = new SyncSession({ doc: source, libraryId: LIBRARY, origin: 'b' })
  const b = new SyncSession({ doc: target, libraryId: LIBRARY, origin: 'a' })
  const start = process.hrtime.bigint()
  const step2 = a.receive(b.open()[0]!).replies
  const encodedMs = elapsed(start)
  for (const frame of step2) b.receive(frame)
  console.log(
    `in memory: SyncStep2 of ${step2.length} frames encoded in ${encodedMs.toFixed(0)} ms, applied after ${elapsed(start).toFixed(0)} ms total (${target.getMap('tracks').size} tracks)`,
  )
  target.destroy()
}

async function startNode(doc: Y.Doc) {
  return createTestNode({
    transport: TRANSPORT,
    services: { catalogSync: catalogSync({ doc, libraryId: LIBRARY, isAllowed: () => true }) },
  })
}

const target = new Y.Doc()
const a = await startNode(source)
const b = await startNode(target)
try {
  const syncA: CatalogSync = a.services.catalogSync
  const syncB: CatalogSync = b.services.catalogSync
  const heapBefore = process.memoryUsage().heapUsed
  const start = process.hrtime.bigint()
  await connect(b, a)
  const dialMs = elapsed(start)
  const signal = AbortSignal.timeout(300_000)
  await Promise.all([syncA.syncedWith(b.peerId, { signal }), syncB.syncedWith(a.peerId, { signal })])
  const syncMs = elapsed(start)
  const converged = target.getMap('tracks').size === TRACKS
  console.log(
    `${TRANSPORT}: empty device synced ${TRACKS} tracks (${mb(fullState.length)}) in ${syncMs.toFixed(0)} ms from dial to both sides synced (dial ${dialMs.toFixed(0)} ms); converged: ${converged}; heap +${mb(process.memoryUsage().heapUsed - heapBefore)}`,
  )
  if (!converged) process.exitCode = 1

  // A live edit once synced.
  const liveStart = process.hrtime.bigint()
  const arrived = new Promise<void>((resolve) => {
    target.on('update', () => resolve())
  })
  tracks.set('track-live', track(TRACKS + 1))
  await arrived
  console.log(`${TRANSPORT}: one live edit arrived in ${elapsed(liveStart).toFixed(1)} ms`)
} finally {
  await Promise.all([a.stop(), b.stop()])
}
