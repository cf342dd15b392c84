import { BLOCK_SIZE, BlockMismatchError, CorruptBlockError, type Manifest } from '../../blobs/index.ts'
import {
  type Catalog,
  findTrack,
  listAlbums,
  listTracks,
  type TrackView,
  UserData,
} from '../../crdt/index.ts'
import { BlobExpectationError, BlockVerificationError } from '../protocols/blob/index.ts'
import { FailureLog } from './failure-log.ts'
import type { LocalFiles } from './local-file.ts'
import { busyPause, NoSourceError, PeerFetcher, toRuns } from './peer-fetcher.ts'
import type { PinCachePort } from './ports.ts'
import { type SessionLike, type SessionOpener, SessionPool } from './session-pool.ts'
import type { TrackStreamer } from './track-streamer.ts'

export class PinTargetError extends Error {
  override name = 'PinTargetError'
}

export interface FetchProgress {
  contentId: string
  title: string
  label: string
  blocksDone: number
  blocksTotal: number
  bytesTotal: number
  state: 'queued' | 'fetching' | 'failed'
  error?: string
}

export interface PinTarget {
  /** What the pins are called in the cache: 'track:<id>', 'album:<artist> - <title>', ... */
  label: string
  tracks: TrackView[]
}

/** Blocks per blocks call, and per bitmap commit, while fetching a pinned blob. */
const RUN_BLOCKS = 32
/** Blobs with more blocks than this are fetched from every device that holds them at once. */
const MULTI_SOURCE_BLOCKS = 256
/** A device that is busy, or a session that another blob's error ended, is asked again this often. */
const RETRIES = 20

/**
 * Keeps tracks available offline on this device: pins a track, album, artist or playlist (its
 * blobs are never evicted from the cache) and fetches what is missing in the background from
 * whichever devices hold them. A mirror device pins the whole library.
 *
 * Many blobs are fetched at once through a few long-lived sessions per device (SessionPool), their
 * requests pipelined on each stream: with small files, a stream and a round trip per file, not
 * bandwidth, would set the pace. A large blob held by several devices is fetched from all of them.
 */
export class PinManager {
  readonly #catalog: Catalog
  readonly #cache: PinCachePort
  readonly #local: LocalFiles
  readonly #streamer: TrackStreamer
  readonly #fetcher: PeerFetcher
  readonly #queue = new Map<string, FetchProgress>()
  /** Content IDs in #queue waiting their turn, oldest first (some may have left #queue since). */
  #waiting: string[] = []
  readonly #pool: SessionPool
  readonly #controller = new AbortController()
  readonly #log: (line: string) => void
  #running = 0
  readonly #concurrency: number
  /** Devices and files whose wrong bytes were logged already. */
  readonly #reportedWrongBytes = new Set<string>()
  readonly #failures: FailureLog

  constructor(init: {
    catalog: Catalog
    cache: PinCachePort
    local: LocalFiles
    streamer: TrackStreamer
    fetcher: PeerFetcher
    sessions: SessionOpener
    log?: (line: string) => void
    concurrency?: number
  }) {
    this.#catalog = init.catalog
    this.#cache = init.cache
    this.#local = init.local
    this.#streamer = init.streamer
    this.#fetcher = init.fetcher
    this.#log = init.log ?? (() => {})
    this.#failures = new FailureLog(this.#log)
    this.#pool = new SessionPool(init.sessions, this.#controller.signal)
    // Enough blobs at once to keep every session's pipeline full, and as many again finishing
    // (fsync, rename) after their session has moved on.
    this.#concurrency = init.concurrency ?? this.#pool.capacityPerPeer * 2
  }

  /** Finds what a user means: a track id (or unique prefix), an album, an artist or a playlist. */
  resolve(target: string): PinTarget {
    const tracks = listTracks(this.#catalog)
    const wanted = target.trim()
    const lower = wanted.toLowerCase()
    const byId = tracks.filter((t) => t.id === wanted || (wanted.length >= 4 && t.id.startsWith(wanted)))
    if (byId.length === 1) return { label: `track:${byId[0]!.id}`, tracks: byId }
    if (byId.length > 1)
      throw new PinTargetError(`'${wanted}' matches ${byId.length} tracks; give more of the id`)
    const albums = listAlbums(tracks).filter((a) => a.id === wanted || a.title.toLowerCase() === lower)
    if (albums.length === 1) {
      const ids = new Set(albums[0]!.trackIds)
      return {
        label: `album:${albums[0]!.albumArtist} - ${albums[0]!.title}`,
        tracks: tracks.filter((t) => ids.has(t.id)),
      }
    }
    if (albums.length > 1) {
      throw new PinTargetError(
        `'${wanted}' names ${albums.length} albums: ${albums.map((a) => `${a.id} (${a.albumArtist})`).join(', ')}`,
      )
    }
    const byArtist = tracks.filter(
      (t) => t.artists.some((a) => a.toLowerCase() === lower) || t.albumArtist?.toLowerCase() === lower,
    )
    if (byArtist.length > 0) return { label: `artist:${wanted}`, tracks: byArtist }
    for (const playlist of UserData.of(this.#catalog).playlistRecords()) {
      if (playlist.id !== wanted && playlist.name.toLowerCase() !== lower) continue
      const items = new Set(playlist.trackIds)
      return { label: `playlist:${playlist.name}`, tracks: tracks.filter((t) => items.has(t.id)) }
    }
    throw new PinTargetError(
      `nothing in the library is called '${wanted}' (a track id, album, artist or playlist)`,
    )
  }

  /** Pins the target's tracks and starts fetching what is not on this device yet. */
  async pin(target: string): Promise<{ label: string; tracks: number; toFetch: number }> {
    const { label, tracks } = this.resolve(target)
    let toFetch = 0
    await this.#cache.pinMany(
      tracks.map((t) => t.contentId),
      label,
    )
    for (const track of tracks) if (await this.#enqueue(track, label)) toFetch++
    this.#pump()
    return { label, tracks: tracks.length, toFetch }
  }

  async unpin(target: string): Promise<{ label: string; tracks: number }> {
    const { label, tracks } = this.resolve(target)
    for (const track of tracks) {
      await this.#cache.unpin(track.contentId)
      this.#queue.delete(track.contentId)
    }
    return { label, tracks: tracks.length }
  }

  /** Pins every track of the library that this device does not hold itself (mirror mode). */
  async mirrorAll(): Promise<number> {
    let queued = 0
    const tracks = listTracks(this.#catalog)
    await this.#cache.pinMany(
      tracks.filter((t) => !this.#cache.isPinned(t.contentId)).map((t) => t.contentId),
      'mirror',
    )
    for (const track of tracks) if (await this.#enqueue(track, 'mirror')) queued++
    this.#pump()
    return queued
  }

  /** Re-queues pinned blobs that are incomplete (after a restart, or when a device comes online). */
  async resume(): Promise<void> {
    // Runs on every catalog change: look up only the incomplete pins, never list the whole library.
    for (const pin of this.#cache.pins()) {
      if (pin.complete) continue
      const trackId = this.#catalog.tracksOfContent(pin.contentId)[0]
      const track = trackId === undefined ? undefined : findTrack(this.#catalog, trackId)
      if (track !== undefined) await this.#enqueue(track, pin.label ?? 'pinned')
    }
    this.#pump()
  }

  /**
   * What is being fetched or failed, item by item, and what waits its turn, counted: a mirror
   * queues the whole library, and a status that listed every waiting track was ~2 MB of JSON per
   * call at 10k tracks (and 10k lines for a reader of `cloudless cache`).
   */
  activity(): { active: FetchProgress[]; queued: { files: number; bytes: number } } {
    const active: FetchProgress[] = []
    const queued = { files: 0, bytes: 0 }
    for (const p of this.#queue.values()) {
      if (p.state === 'queued') {
        queued.files++
        queued.bytes += p.bytesTotal
      } else active.push({ ...p })
    }
    return { active, queued }
  }

  /** Resolves when nothing is queued or fetching (failed items stay listed). */
  async idle(signal?: AbortSignal): Promise<void> {
    while ([...this.#queue.values()].some((p) => p.state !== 'failed')) {
      signal?.throwIfAborted()
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  stop(): void {
    this.#failures.flush()
    this.#controller.abort()
    void this.#pool.close()
  }

  async #enqueue(track: TrackView, label: string): Promise<boolean> {
    if (this.#cache.isComplete(track.contentId)) return false
    if ((await this.#local.find(track.id, track.contentId)) !== undefined) return false
    const existing = this.#queue.get(track.contentId)
    if (existing !== undefined && existing.state !== 'failed') return false
    this.#queue.set(track.contentId, {
      contentId: track.contentId,
      title: track.title,
      label,
      blocksDone: 0,
      blocksTotal: 0,
      bytesTotal: track.size,
      state: 'queued',
    })
    this.#waiting.push(track.contentId)
    return true
  }

  #nextQueued(): FetchProgress | undefined {
    while (this.#waiting.length > 0) {
      const item = this.#queue.get(this.#waiting.shift()!)
      if (item?.state === 'queued') return item
    }
    return undefined
  }

  #pump(): void {
    while (this.#running < this.#concurrency) {
      const next = this.#nextQueued()
      if (next === undefined) return
      next.state = 'fetching'
      this.#running++
      this.#fetch(next)
        .then(() => {
          this.#queue.delete(next.contentId)
          this.#failures.fetched(next.contentId)
        })
        .catch((error: Error) => {
          // The blob may be complete all the same (the stream failed after its last block).
          if (this.#cache.isComplete(next.contentId)) {
            this.#queue.delete(next.contentId)
            return
          }
          next.state = 'failed'
          next.error = error.message
          this.#failures.failed(next.contentId, next.title, error.message)
        })
        .finally(() => {
          this.#running--
          this.#pump()
        })
    }
  }

  async #fetch(item: FetchProgress): Promise<void> {
    const signal = this.#controller.signal
    const { contentId } = item
    const peers = this.#fetcher.rank(contentId)
    const known = await this.#cache.getManifest(contentId)
    if (known !== undefined && peers.length > 1 && this.#progress(item, known) > MULTI_SOURCE_BLOCKS) {
      return this.#fetchFromAll(item, known, signal)
    }
    const errors: string[] = []
    for (const peer of peers) {
      for (let attempt = 0; ; attempt++) {
        try {
          const started = performance.now()
          const fetched = await this.#pool.use(peer, (session) => this.#fetchOn(session, item, signal))
          // Made durable after the session has moved on to other blobs: an fsync waits for the
          // disk, behind everything else written (measured in a 10k mirror: commit and close
          // took 60 ms of a blob's ~140 ms, during which its session took no other blob). The
          // write thread may find a bad block only now: the peer's sessions are not trusted then.
          if (fetched.writer !== undefined)
            await finish(fetched.writer, signal).catch((error: unknown) => {
              const bad = badBytes(error, item)
              if (bad !== undefined) this.#pool.abortPeer(peer, bad)
              throw bad ?? error
            })
          this.#fetcher.recordSuccess(peer, fetched.bytes, performance.now() - started)
          return
        } catch (error) {
          signal.throwIfAborted()
          const name = (error as Error).name
          if ((name === 'PeerBusyError' || name === 'BlobSessionEndedError') && attempt < RETRIES) {
            await busyPause(Math.min(attempt, 5), signal)
            continue
          }
          this.#fetcher.recordFailure(peer)
          const failure = this.#fetcher.failure(peer, error, contentId)
          // Wrong bytes are news even when another device then delivers: that device's copy (or
          // the device itself) is not to be trusted. Once per device and file: failed fetches
          // are tried again on every new connection.
          const reported = `${peer} ${contentId}`
          if (PeerFetcher.sentWrongBytes(error, contentId) && !this.#reportedWrongBytes.has(reported)) {
            this.#reportedWrongBytes.add(reported)
            this.#log(`"${item.title}": ${failure}`)
          }
          errors.push(failure)
          break
        }
      }
    }
    // No content ID in the message: it goes with the track's title, and alike ones are logged together.
    throw new NoSourceError(
      errors.length === 0
        ? 'no device that holds it is online'
        : `no device could deliver it: ${errors.join('; ')}`,
    )
  }

  /**
   * The manifest (from the cache, else from the session) and every missing block, on one session.
   * Returns the writer with the last blocks, to be committed and closed by the caller (`finish`)
   * once the session is free for other blobs, and the bytes fetched.
   */
  async #fetchOn(session: SessionLike, item: FetchProgress, signal: AbortSignal): Promise<Fetched> {
    const { contentId } = item
    let manifest = await this.#cache.getManifest(contentId)
    if (manifest === undefined && Number.isSafeInteger(item.bytesTotal) && item.bytesTotal >= 0) {
      const writer = await this.#fetchWithManifest(session, item, signal)
      if (writer !== false) return { writer, bytes: item.bytesTotal }
      manifest = await this.#cache.getManifest(contentId)
    }
    if (manifest === undefined) {
      manifest = await session.manifest(contentId)
      await this.#cache.putManifest(contentId, manifest)
    }
    const missing = this.#progress(item, manifest)
    if (missing === 0) return { writer: undefined, bytes: 0 }
    const runs = toRuns(this.#cache.missingBlocks(contentId), RUN_BLOCKS)
    const writer = this.#cache.writer(contentId)
    try {
      // Every run is asked for at once; they are answered in order, each committed as it ends
      // (the last by the caller).
      const calls = runs.map((run) =>
        session.blocks(contentId, manifest, run.first, run.count, async (block) => {
          await writer.write(block.index, block.bytes, signal)
          item.blocksDone++
        }),
      )
      for (const call of calls) call.catch(() => {})
      for (const [i, call] of calls.entries()) {
        await call
        if (i < calls.length - 1) await writer.commit(signal)
      }
    } catch (error) {
      await writer.close().catch(() => {})
      throw error
    }
    return { writer, bytes: missing * manifest.blockSize }
  }

  /**
   * A blob the cache knows nothing of: its manifest and all its blocks asked for together, sized
   * by the catalog (a mirror of small files then waits for no answer between the two). False when
   * the manifest said another size: it is stored, and the caller asks for the blocks it names.
   */
  async #fetchWithManifest(
    session: SessionLike,
    item: FetchProgress,
    signal: AbortSignal,
  ): Promise<BlockWriter | undefined | false> {
    const { contentId } = item
    let writer: BlockWriter | undefined
    let store: ((index: number, bytes: Uint8Array) => Promise<void>) | undefined
    try {
      await session.manifestAndBlocks(
        contentId,
        { size: item.bytesTotal, blockSize: BLOCK_SIZE },
        async (manifest) => {
          await this.#cache.putManifest(contentId, manifest)
          this.#progress(item, manifest)
          writer = this.#cache.writer(contentId)
          store = storeCommittingRuns(writer, item, signal, { unverified: true })
        },
        (block) => store!(block.index, block.bytes),
        // The cache verifies each block in its write thread, where it writes it: this thread
        // receives and decrypts (see BlockWriteThread).
        { consumerVerifies: true },
      )
      return writer
    } catch (error) {
      await writer?.close().catch(() => {})
      if (error instanceof BlobExpectationError) return false
      throw error
    }
  }

  /** A large blob, from every device that holds it at once (PeerFetcher.download). */
  async #fetchFromAll(item: FetchProgress, manifest: Manifest, signal: AbortSignal): Promise<void> {
    const writer = this.#cache.writer(item.contentId)
    try {
      await this.#fetcher.download(
        item.contentId,
        manifest,
        this.#cache.missingBlocks(item.contentId),
        storeCommittingRuns(writer, item, signal),
        signal,
        RUN_BLOCKS,
      )
    } finally {
      await writer.close()
    }
  }

  /** Fills in the item's block counts; returns the blocks still missing. */
  #progress(item: FetchProgress, manifest: Manifest): number {
    const missing = this.#cache.missingBlocks(item.contentId).length
    item.blocksTotal = Math.ceil(manifest.size / manifest.blockSize)
    item.blocksDone = item.blocksTotal - missing
    return missing
  }
}

type BlockWriter = ReturnType<PinCachePort['writer']>

/** What #fetchOn leaves to its caller: the writer to commit and close (none when nothing was missing). */
interface Fetched {
  writer: BlockWriter | undefined
  bytes: number
}

/** Commits the writer's last blocks and closes it (closed even when the commit fails). */
async function finish(writer: BlockWriter, signal: AbortSignal): Promise<void> {
  try {
    await writer.commit(signal)
  } finally {
    await writer.close()
  }
}

/**
 * Writes each block, counts it done, and commits every RUN_BLOCKS blocks (the caller commits the
 * rest). `unverified`: the blocks come unverified and the cache verifies them as it writes them; a
 * bad one (reported by a later write or commit) is the sender's fault, a BlockVerificationError.
 */
function storeCommittingRuns(
  writer: BlockWriter,
  item: FetchProgress,
  signal: AbortSignal,
  options: { unverified?: boolean } = {},
): (index: number, bytes: Uint8Array) => Promise<void> {
  let sinceCommit = 0
  const unverified = options.unverified === true
  return async (index, bytes) => {
    try {
      if (unverified) await writer.writeUnverified(index, bytes, signal)
      else await writer.write(index, bytes, signal)
      item.blocksDone++
      if (++sinceCommit >= RUN_BLOCKS) {
        sinceCommit = 0
        await writer.commit(signal)
      }
    } catch (error) {
      // The session ends on it: the peer sent bad bytes.
      throw (unverified ? badBytes(error, item) : undefined) ?? error
    }
  }
}

/**
 * A bad block the cache's write thread found in unverified bytes (the bad block's own error, which
 * may come with a later block or the commit), as the blob protocol reports one; undefined for any
 * other error.
 */
function badBytes(error: unknown, item: FetchProgress): BlockVerificationError | undefined {
  if (!(error instanceof CorruptBlockError)) return undefined
  const mismatch = error instanceof BlockMismatchError
  const index = mismatch ? error.index : undefined
  return new BlockVerificationError(
    `the bytes sent for "${item.title}"${index === undefined ? '' : ` (block ${index})`} do not match ` +
      `their checksum${mismatch ? '' : ` (${error.message})`}`,
    index ?? -1,
    item.contentId,
  )
}
