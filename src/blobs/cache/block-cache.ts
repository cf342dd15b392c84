import { promises as fs } from 'node:fs'
import path from 'node:path'
import {
  blockCount,
  blockHash,
  contentIdOfManifest,
  encodeManifest,
  isContentId,
  MalformedManifestError,
  type Manifest,
  ManifestMismatchError,
  manifestOf,
  verifyBlock,
  verifyBlockOnce,
  verifyManifest,
} from '../content-id.ts'
import { Bitmap } from './bitmap.ts'
import { BlockMismatchError, BlockWriteThread, ThreadWriteError } from './block-write-thread.ts'
import {
  BlobRemovedError,
  BlockMissingError,
  CacheClosedError,
  CorruptBlockError,
  InvalidContentIdError,
  isNotFound,
  ManifestMissingError,
  translateDiskFull,
  translateDiskFullNow,
} from './errors.ts'
import {
  createFile,
  type DataHandle,
  makeFolderNow,
  openDataFile,
  readAt,
  removeFile,
  renameNow,
  replaceFile,
  syncData,
  syncDir,
  writeAt,
  writeCheckedFileNow,
} from './file-io.ts'
import {
  BLOBS_FOLDER,
  type BlobFileKind,
  blobFile,
  cacheRoot,
  derivesManifest,
  PINS_FILE,
  shardOf,
} from './layout.ts'
import { ManifestCache } from './manifest-cache.ts'
import { encodePins, loadPins, type Pin } from './pins.ts'
import { type RecoveredBlob, type RecoveryReport, recoverBlobs } from './recover.ts'

export const DEFAULT_CACHE_LIMIT = 4 * 1024 ** 3
/** Block hashes kept in memory for recently used blobs (a 10 MB track has 1.3 KB of them). */
const MANIFEST_CACHE_BYTES = 8 * 1024 * 1024
/** Access times reach the disk this long after a touch (an mtime update, never an fsync). */
const ACCESS_FLUSH_MS = 2000

export interface BlockCacheOptions {
  /** Unpinned blobs are evicted, least recently used first, to stay under this. Default 4 GiB. */
  limitBytes?: number
  signal?: AbortSignal
}

/** Pins of one label, counted (label 'pinned' for pins without one). */
export interface PinTotals {
  label: string
  blobs: number
  complete: number
  bytes: number
}

export interface PinInfo {
  contentId: string
  label?: string
  complete: boolean
  /** Bytes of the blob's content held (not counting its manifest). */
  bytes: number
  /** The blob's size; undefined until its manifest is in the cache. */
  size: number | undefined
}

export interface CacheUsage {
  /** Data plus manifests (as stored on disk, or as they would be when derived). */
  bytes: number
  limitBytes: number
  pinnedBytes: number
  blobs: number
  completeBlobs: number
  /** True when bytes exceed the limit: pins alone, or blobs being written, can hold it there. */
  overLimit: boolean
}

export interface BlobInfo {
  size: number
  blockSize: number
  blocks: number
  presentBlocks: number
  complete: boolean
  pinned: boolean
}

interface Entry {
  readonly contentId: string
  readonly size: number
  readonly blockSize: number
  readonly blocks: number
  readonly manifestBytes: number
  /** Whether the manifest is in a .manifest file; if not, it is derived from the data (derivesManifest). */
  readonly manifestOnDisk: boolean
  /** A derived manifest while its blob is not complete (it cannot be derived yet; held until then). */
  unsavedManifest: Manifest | undefined
  /** The data file on disk now; it can differ from the state below until the next persist. */
  file: 'partial' | 'blob' | undefined
  /** Present blocks; undefined when every block is present. */
  bitmap: Bitmap | undefined
  dataBytes: number
  lastAccess: number
  removed: boolean
  /** Tail of this blob's file operations (persist, remove), which run one at a time. */
  chain: Promise<void>
  /** A persist that has not started yet: later requests join it. */
  persistQueued: Promise<void> | undefined
  /** Blocks written and fsynced, waiting for the next bitmap commit. */
  pending: Set<number> | undefined
  /** Writes in flight by block index (a second write of the same block waits for the first). */
  writing: Map<number, Promise<void>> | undefined
  /** The data file, open while writes or writers use it (handleUsers counts them). */
  handle: Promise<DataHandle> | undefined
  /** The same handle once open (a persist must not wait for an open queued behind it). */
  openHandle: DataHandle | undefined
  handleUsers: number
  /** Whether a `.bitmap` file may exist (so completing need not remove one that never was). */
  bitmapOnDisk: boolean
}

/**
 * Writes many blocks of one blob through one open data file and marks them present a run at a
 * time (BlockCache.writer). A block written is present only after the next commit(): a crash
 * before it costs a refetch, never a block marked present that was not written.
 */
export interface BlockWriter {
  /**
   * Verifies `bytes` as block `index` (rejects with CorruptBlockError if not) and writes them. May
   * resolve before the bytes are written (a few MiB are written behind): a failed write is reported
   * by a later write(), by commit() or close(). See commit().
   */
  write(index: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
  /**
   * Like write(), but the bytes are verified in the cache's write thread (BlockWriteThread) along
   * with their write, off the caller's thread: a block that does not match is reported as
   * CorruptBlockError by a later write(), by commit() or close(), and is never marked present. Takes
   * the bytes and the buffer they are in: the caller must not use either afterwards (a received
   * message's memory moves to the thread; see BlockWriteThread.write).
   */
  writeUnverified(index: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
  /** Waits for the writes, then marks every block written so far present (one bitmap commit; the blob completes when full). */
  commit(signal?: AbortSignal): Promise<void>
  /** Commits, then releases the data file. The writer cannot be used afterwards. */
  close(): Promise<void>
}

/** Bytes the cache's writers may have accepted and not written yet (then write() waits). */
const WRITE_BEHIND_BYTES = 8 * 1024 * 1024

/**
 * A bounded, verified cache of blob blocks on the local file system (shared/ARCHITECTURE.md,
 * decision 3): blobs fetched from other devices, kept until evicted (least recently used first),
 * or kept for good while pinned.
 *
 * Crash safety. Nothing is ever marked present before it is durable, and nothing is served unverified:
 * - writeBlock verifies the bytes against the manifest, writes them into `<id>.partial` at their
 *   offset, fdatasyncs, and only then sets the block's bit in `<id>.bitmap`, which is replaced
 *   atomically (temp, fsync, rename). Writers that arrive while a commit runs share the next bitmap
 *   replace (group commit). A crash between the data and the bitmap loses the block, not correctness.
 * - When the last block is in, `<id>.partial` is renamed to `<id>.blob` and the bitmap removed.
 * - Every read hashes the block again. A torn write, bit rot or a truncated file is caught there: the
 *   block is dropped and the caller refetches it. Opening the cache removes temp files, rebuilds
 *   missing or damaged bitmaps by verifying the blocks on disk, and drops blobs whose manifest is bad.
 * - A block's bytes are never rewritten once present (a second write of a present block is a no-op),
 *   so a read never sees a block being written.
 *
 * Memory holds one small record and a bitmap per blob (a bit per 256 KiB block) and a bounded set of
 * manifests; never blob bytes.
 */
export class BlockCache {
  readonly dir: string
  /** What opening the cache found and repaired. */
  readonly openReport: RecoveryReport & { pinsFileDamaged: boolean }
  #limit: number
  #entries = new Map<string, Entry>()
  /** Unpinned blobs, least recently used first. Pinned ones are left out, so eviction never scans them. */
  #lru = new Map<string, Entry>()
  #pins: Map<string, Pin>
  #manifests = new ManifestCache(MANIFEST_CACHE_BYTES)
  #bytes = 0
  /** Bytes writers accepted and have not written yet (WRITE_BEHIND_BYTES). */
  #writeBehindBytes = 0
  #clock = 0
  #accessDirty = new Set<string>()
  #accessTimer: NodeJS.Timeout | undefined
  #putting = new Map<string, Promise<void>>()
  /** Shard folders known to exist. */
  #shards = new Set<string>()
  #pinsChain: Promise<void> = Promise.resolve()
  #evictChain: Promise<unknown> = Promise.resolve()
  #ops = new Set<Promise<unknown>>()
  #closed = false
  /** Where writeUnverified's blocks are verified and written (started at the first). */
  readonly #writeThread = new BlockWriteThread()

  private constructor(
    dir: string,
    limit: number,
    pins: Map<string, Pin>,
    recovered: RecoveredBlob[],
    report: RecoveryReport & { pinsFileDamaged: boolean },
  ) {
    this.dir = dir
    this.#limit = limit
    this.#pins = pins
    this.openReport = report
    recovered.sort((a, b) => a.lastAccess - b.lastAccess)
    for (const blob of recovered) {
      const entry = newEntry(blob)
      entry.dataBytes = presentBytes(entry)
      this.#add(entry)
      this.#clock = Math.max(this.#clock, blob.lastAccess)
    }
  }

  static async open(folder: string, options: BlockCacheOptions = {}): Promise<BlockCache> {
    const dir = cacheRoot(folder)
    const limit = options.limitBytes ?? DEFAULT_CACHE_LIMIT
    checkLimit(limit)
    await fs.mkdir(path.join(dir, BLOBS_FOLDER), { recursive: true })
    const { pins, damaged } = await loadPins(dir, options.signal)
    const { blobs, report } = await recoverBlobs(dir, options.signal)
    const cache = new BlockCache(dir, limit, pins, blobs, { ...report, pinsFileDamaged: damaged })
    if (cache.#bytes > limit) await cache.#evict(undefined, options.signal)
    return cache
  }

  async setLimit(bytes: number, signal?: AbortSignal): Promise<void> {
    checkLimit(bytes)
    this.#assertOpen()
    this.#limit = bytes
    await this.#track(this.#evict(undefined, signal))
  }

  /**
   * Stores a blob's manifest (it must hash to `contentId`), so its blocks can be written, verified
   * and resumed after a restart. A no-op when the cache has it already.
   */
  async putManifest(contentId: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
    this.#assertOpen()
    checkId(contentId)
    if (this.#entries.has(contentId)) return
    const running = this.#putting.get(contentId)
    if (running) return running
    if (contentIdOfManifest(manifest) !== contentId) {
      throw new ManifestMismatchError(`the manifest given does not hash to ${contentId}`)
    }
    const put = this.#track(this.#putManifest(contentId, manifest, signal))
    this.#putting.set(contentId, put)
    try {
      await put
    } finally {
      this.#putting.delete(contentId)
    }
    await this.#autoEvict(contentId)
  }

  /** The manifest, read back from disk unless recently used (only a bounded number stay in memory). */
  async getManifest(contentId: string, signal?: AbortSignal): Promise<Manifest | undefined> {
    this.#assertOpen()
    const entry = this.#entries.get(contentId)
    return entry ? this.#track(this.#manifest(entry, signal)) : undefined
  }

  blobInfo(contentId: string): BlobInfo | undefined {
    const entry = this.#entries.get(contentId)
    if (!entry) return undefined
    const { size, blockSize, blocks } = entry
    const presentBlocks = entry.bitmap ? entry.bitmap.count : blocks
    return {
      size,
      blockSize,
      blocks,
      presentBlocks,
      complete: !entry.bitmap,
      pinned: this.#pins.has(contentId),
    }
  }

  hasBlock(contentId: string, index: number): boolean {
    const entry = this.#entries.get(contentId)
    return entry !== undefined && isPresent(entry, index)
  }

  /** Indices in [first, first + count) not in the cache, in order. Throws without a manifest. */
  missingBlocks(contentId: string, first = 0, count?: number): number[] {
    const entry = this.#entries.get(contentId)
    if (!entry) throw new ManifestMissingError(`no manifest for ${contentId}`)
    const end = Math.min(entry.blocks, count === undefined ? entry.blocks : first + count)
    const missing: number[] = []
    if (!entry.bitmap) return missing
    for (let i = Math.max(0, first); i < end; i++) if (!entry.bitmap.has(i)) missing.push(i)
    return missing
  }

  isComplete(contentId: string): boolean {
    const entry = this.#entries.get(contentId)
    return entry !== undefined && !entry.bitmap
  }

  /**
   * Verifies `bytes` as block `index` (CorruptBlockError if they are not), then stores them durably.
   * Resolves once the block is on disk and marked present. DiskFullError when the disk is full.
   */
  async writeBlock(contentId: string, index: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#assertOpen()
    const entry = this.#entries.get(contentId)
    if (!entry) throw new ManifestMissingError(`no manifest for ${contentId}: put it before its blocks`)
    await this.#writeUnlessPresent(entry, undefined, index, bytes, true, signal)
    await this.#autoEvict(contentId)
  }

  /**
   * A writer for many blocks of one blob (a download): one open data file for all of them, and one
   * bitmap commit per run instead of one per block. Throws ManifestMissingError without a manifest.
   */
  writer(contentId: string): BlockWriter {
    this.#assertOpen()
    const entry = this.#entries.get(contentId)
    if (!entry) throw new ManifestMissingError(`no manifest for ${contentId}: put it before its blocks`)
    let closed = false
    /** Taking the data file, once (held until close(), so it stays open between blocks). */
    let acquiring: Promise<void> | undefined
    let held = false
    let uncommitted = 0
    /** Writes under way (write-behind): their failure (a bad unverified block too) is reported later. */
    const writing = new Set<Promise<void>>()
    let failure: { error: unknown } | undefined
    const throwIfFailed = (): void => {
      if (failure) throw failure.error
    }
    const settle = async (): Promise<void> => {
      while (writing.size > 0) await Promise.allSettled([...writing])
      throwIfFailed()
    }
    const commit = async (signal?: AbortSignal): Promise<void> => {
      await settle()
      if (uncommitted === 0) return
      uncommitted = 0
      signal?.throwIfAborted()
      await this.#track(this.#persist(entry))
      await this.#autoEvict(contentId)
    }
    const queue = async (
      index: number,
      bytes: Uint8Array,
      signal: AbortSignal | undefined,
      inThread: boolean,
    ): Promise<void> => {
      if (closed) throw new CacheClosedError('the block writer is closed')
      this.#assertOpen()
      throwIfFailed()
      acquiring ??= this.#track(this.#acquireHandle(entry)).then(
        () => {
          held = true
        },
        (error: unknown) => {
          // A failed open is not kept: the next write tries again.
          acquiring = undefined
          throw error
        },
      )
      // Verified now (a bad block is refused by this call), or by the write thread with the write;
      // the data file opened and the block written behind, so that the next block is received
      // meanwhile: commit() waits for the writes before it marks them. Not waiting here for the
      // open matters for small blobs: a blob session reads its next message only once this
      // returns, and an open waits its turn in libuv's thread pool (measured: a 10k-track mirror
      // spent 2-3 ms a blob on it, in line).
      const manifest = await this.#checkedManifest(entry, index, bytes, signal, inThread)
      const expected = inThread ? blockHash(manifest, index) : undefined
      const length = bytes.length
      const opened = acquiring
      const write = opened
        .then(() => this.#writeUnlessPresent(entry, manifest, index, bytes, false, signal, expected))
        .then(
          (wrote) => {
            if (wrote) uncommitted++
          },
          (error: unknown) => {
            failure ??= { error }
          },
        )
      writing.add(write)
      this.#writeBehindBytes += length
      void write.finally(() => {
        writing.delete(write)
        this.#writeBehindBytes -= length
      })
      // Bounded for the whole cache (plus a block per writer): past it, wait for our own writes.
      while (this.#writeBehindBytes > WRITE_BEHIND_BYTES && writing.size > 0) await Promise.race(writing)
      throwIfFailed()
    }
    return {
      write: (index, bytes, signal) => queue(index, bytes, signal, false),
      writeUnverified: (index, bytes, signal) => queue(index, bytes, signal, true),
      commit,
      close: async () => {
        if (closed) return
        closed = true
        try {
          await commit()
        } finally {
          await Promise.allSettled([...writing])
          await acquiring?.catch(() => {})
          if (held) await this.#track(this.#releaseHandle(entry))
        }
      },
    }
  }

  /**
   * The blob's manifest, once `bytes` are verified as its block `index` (CorruptBlockError if not);
   * with `hashLater`, only their length is checked here (the write thread hashes them).
   */
  async #checkedManifest(
    entry: Entry,
    index: number,
    bytes: Uint8Array,
    signal: AbortSignal | undefined,
    hashLater = false,
  ): Promise<Manifest> {
    signal?.throwIfAborted()
    const { contentId } = entry
    checkIndex(entry, index)
    const manifest = await this.#track(this.#manifest(entry, signal))
    if (!manifest) throw new ManifestMissingError(`the manifest of ${contentId} is gone`)
    if (hashLater) {
      const expected = blockLength(entry, index)
      if (bytes.length !== expected)
        throw new CorruptBlockError(
          `block ${index} of ${contentId} has ${bytes.length} bytes, not ${expected}`,
        )
    } else if (!verifyBlockOnce(manifest, index, bytes)) {
      // A block the blob session verified on receipt is not hashed again (its digest is remembered).
      throw new CorruptBlockError(`block ${index} of ${contentId} does not match its manifest`)
    }
    return manifest
  }

  /**
   * Writes a block unless present: bytes verified against `manifest` (by the caller, or here when
   * `manifest` is undefined), or, given `expected`, bytes the write thread verifies against that
   * hash as it writes them (BlockMismatchError, a CorruptBlockError, when they do not match).
   * `commit`: wait for its bitmap commit; otherwise it waits in `pending` for the writer's commit.
   * True when this call wrote the block.
   */
  async #writeUnlessPresent(
    entry: Entry,
    manifest: Manifest | undefined,
    index: number,
    bytes: Uint8Array,
    commit: boolean,
    signal?: AbortSignal,
    expected?: Uint8Array,
  ): Promise<boolean> {
    if (manifest === undefined) await this.#checkedManifest(entry, index, bytes, signal)
    else signal?.throwIfAborted()
    const { contentId } = entry
    this.touch(contentId)
    if (isPresent(entry, index)) return false
    for (let running = entry.writing?.get(index); running; running = entry.writing?.get(index)) {
      try {
        await running
        return false
      } catch (error) {
        // That write's bytes were bad (unverified ones the write thread refused): ours may be good.
        if (!(error instanceof BlockMismatchError)) throw error
      }
      if (isPresent(entry, index)) return false
    }
    const write = this.#track(this.#writeNewBlock(entry, index, bytes, commit, signal, expected))
    entry.writing ??= new Map()
    entry.writing.set(index, write)
    try {
      await write
    } finally {
      entry.writing.delete(index)
      if (entry.writing.size === 0) entry.writing = undefined
    }
    return true
  }

  /**
   * Block `index`, verified against the manifest; undefined when it is not in the cache. A block that
   * fails verification (damaged on disk) is dropped, so the caller fetches it again; never returned.
   */
  async readBlock(contentId: string, index: number, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    signal?.throwIfAborted()
    const entry = this.#entries.get(contentId)
    if (!entry || !isPresent(entry, index)) return undefined
    this.touch(contentId)
    return this.#track(this.#readVerified(entry, index, signal))
  }

  /**
   * The bytes from `start` to `endInclusive`, verified block by block, as slices of blocks (for an
   * HTTP Range answer). Check `missingBlocks` first: a block not in the cache throws BlockMissingError.
   */
  async *readRange(
    contentId: string,
    start: number,
    endInclusive: number,
    signal?: AbortSignal,
  ): AsyncIterable<Uint8Array> {
    const entry = this.#entries.get(contentId)
    if (!entry) throw new BlockMissingError(`${contentId} is not in the cache`)
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endInclusive)) {
      throw new RangeError('range bounds must be integers')
    }
    if (start < 0 || endInclusive < start || endInclusive >= entry.size) {
      throw new RangeError(`range ${start}-${endInclusive} is outside 0-${entry.size - 1}`)
    }
    const { blockSize } = entry
    for (let i = Math.floor(start / blockSize); i <= Math.floor(endInclusive / blockSize); i++) {
      const block = await this.readBlock(contentId, i, signal)
      if (!block) throw new BlockMissingError(`block ${i} of ${contentId} is not in the cache`)
      const from = Math.max(0, start - i * blockSize)
      const to = Math.min(block.length, endInclusive - i * blockSize + 1)
      yield block.subarray(from, to)
    }
  }

  /** Pinned blobs are never evicted. A blob can be pinned before any of it is in the cache. */
  async pin(contentId: string, label?: string, signal?: AbortSignal): Promise<void> {
    await this.pinMany([contentId], label, signal)
  }

  /** Pins several blobs with one write of the pins file (a mirror pins a whole library at once). */
  async pinMany(contentIds: string[], label?: string, signal?: AbortSignal): Promise<void> {
    this.#assertOpen()
    const previous = new Map<string, Pin | undefined>()
    for (const contentId of contentIds) {
      checkId(contentId)
      const before = this.#pins.get(contentId)
      if ((before && before.label === label) || previous.has(contentId)) continue
      previous.set(contentId, before)
      const pinnedAt = before?.pinnedAt ?? Date.now()
      this.#pins.set(contentId, label === undefined ? { pinnedAt } : { label, pinnedAt })
      this.#lru.delete(contentId)
    }
    if (previous.size === 0) return
    try {
      await this.#track(this.#savePins(signal))
    } catch (error) {
      for (const [contentId, before] of previous) {
        if (before) this.#pins.set(contentId, before)
        else this.#unpinInMemory(contentId)
      }
      throw error
    }
  }

  async unpin(contentId: string, signal?: AbortSignal): Promise<void> {
    this.#assertOpen()
    const before = this.#pins.get(contentId)
    if (!before) return
    this.#unpinInMemory(contentId)
    try {
      await this.#track(this.#savePins(signal))
    } catch (error) {
      this.#pins.set(contentId, before)
      this.#lru.delete(contentId)
      throw error
    }
    await this.#autoEvict(undefined)
  }

  isPinned(contentId: string): boolean {
    return this.#pins.has(contentId)
  }

  pins(): PinInfo[] {
    return [...this.#pins].map(([contentId, pin]) => {
      const entry = this.#entries.get(contentId)
      const info: PinInfo = {
        contentId,
        complete: entry !== undefined && !entry.bitmap,
        bytes: entry?.dataBytes ?? 0,
        size: entry?.size,
      }
      if (pin.label !== undefined) info.label = pin.label
      return info
    })
  }

  /**
   * The pins counted by label (blobs, complete ones, bytes held), without a record per pin: a
   * mirror pins the whole library, and `cloudless cache` asks for this while it is fetched.
   */
  pinTotals(): PinTotals[] {
    const byLabel = new Map<string, PinTotals>()
    for (const [contentId, pin] of this.#pins) {
      const label = pin.label ?? 'pinned'
      let totals = byLabel.get(label)
      if (totals === undefined) {
        totals = { label, blobs: 0, complete: 0, bytes: 0 }
        byLabel.set(label, totals)
      }
      const entry = this.#entries.get(contentId)
      totals.blobs++
      if (entry !== undefined) {
        if (!entry.bitmap) totals.complete++
        totals.bytes += entry.dataBytes
      }
    }
    return [...byLabel.values()].sort((a, b) => a.label.localeCompare(b.label))
  }

  usage(): CacheUsage {
    let pinnedBytes = 0
    for (const id of this.#pins.keys()) {
      const entry = this.#entries.get(id)
      if (entry) pinnedBytes += entryBytes(entry)
    }
    let completeBlobs = 0
    for (const entry of this.#entries.values()) if (!entry.bitmap) completeBlobs++
    return {
      bytes: this.#bytes,
      limitBytes: this.#limit,
      pinnedBytes,
      blobs: this.#entries.size,
      completeBlobs,
      overLimit: this.#bytes > this.#limit,
    }
  }

  /** Marks the blob as just used. Reads and writes do this themselves. */
  touch(contentId: string): void {
    const entry = this.#entries.get(contentId)
    if (!entry || entry.removed) return
    entry.lastAccess = this.#tick()
    if (this.#lru.delete(contentId)) this.#lru.set(contentId, entry)
    // A pinned blob is never evicted, so its access time goes to disk only once it is unpinned
    // (a mirror would otherwise touch the mtime of every file it fetched: 10k utimes for 10k tracks).
    if (!this.#pins.has(contentId)) this.#saveAccessLater(contentId)
  }

  #saveAccessLater(contentId: string): void {
    this.#accessDirty.add(contentId)
    if (!this.#accessTimer && !this.#closed) {
      this.#accessTimer = setTimeout(() => {
        this.#accessTimer = undefined
        void this.#track(this.#flushAccess())
      }, ACCESS_FLUSH_MS)
      this.#accessTimer.unref()
    }
  }

  /**
   * Removes unpinned blobs, least recently used first, until the cache is under its limit. Blobs with
   * writes in flight are skipped. Runs by itself after writes; pins over the limit stay (see usage()).
   */
  evict(signal?: AbortSignal): Promise<{ evicted: string[]; freedBytes: number }> {
    this.#assertOpen()
    return this.#track(this.#evict(undefined, signal))
  }

  /** Removes the blob's data and manifest (pinned or not; its pin, if any, stays). */
  async remove(contentId: string): Promise<void> {
    this.#assertOpen()
    const entry = this.#entries.get(contentId)
    if (entry) await this.#track(this.#remove(entry))
  }

  /** Verifies every block present (without changing LRU order); drops the ones that fail. */
  async scrub(signal?: AbortSignal): Promise<{ checkedBlocks: number; droppedBlocks: number }> {
    this.#assertOpen()
    let checkedBlocks = 0
    let droppedBlocks = 0
    for (const entry of [...this.#entries.values()]) {
      for (let i = 0; i < entry.blocks; i++) {
        signal?.throwIfAborted()
        if (entry.removed || !isPresent(entry, i)) continue
        checkedBlocks++
        if (!(await this.#track(this.#readVerified(entry, i, signal)))) droppedBlocks++
      }
    }
    return { checkedBlocks, droppedBlocks }
  }

  /** Waits for operations in flight, writes access times, and refuses further calls. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#accessTimer)
    this.#accessTimer = undefined
    while (this.#ops.size > 0) await Promise.allSettled([...this.#ops])
    await this.#flushAccess()
    await this.#writeThread.close()
  }

  // --- internals ---

  async #putManifest(contentId: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
    const encoded = encodeManifest(manifest)
    const shard = shardOf(this.dir, contentId)
    signal?.throwIfAborted()
    // Not fsynced: a manifest is checked against its content ID whenever it is read (and when the
    // cache opens), so one lost or torn by a power cut only drops the blob, fetched again later.
    // Synchronous, with its shard folder: see writeCheckedFileNow (a mirror of 10k small files
    // spent 1.7-3.2 ms a blob waiting here, mostly for the first blobs' mkdir in the thread pool).
    const manifestOnDisk = !derivesManifest(manifest)
    translateDiskFullNow(`storing the manifest of ${contentId}`, () => {
      if (!this.#shards.has(shard)) {
        makeFolderNow(shard)
        this.#shards.add(shard)
      }
      if (manifestOnDisk) writeCheckedFileNow(blobFile(this.dir, contentId, 'manifest'), encoded)
    })
    const blocks = blockCount(manifest.size, manifest.blockSize)
    let file: 'blob' | undefined
    if (blocks === 0) {
      // An empty blob is complete as soon as it is known.
      await translateDiskFull(`storing ${contentId}`, () => createFile(blobFile(this.dir, contentId, 'blob')))
      file = 'blob'
    }
    const entry = newEntry({
      contentId,
      size: manifest.size,
      blockSize: manifest.blockSize,
      manifestBytes: encoded.length,
      manifestOnDisk,
      file,
      bitmap: blocks === 0 ? undefined : new Bitmap(blocks),
      lastAccess: this.#tick(),
    })
    if (!manifestOnDisk) entry.unsavedManifest = manifest
    this.#manifests.set(contentId, manifest)
    this.#add(entry)
  }

  async #writeNewBlock(
    entry: Entry,
    index: number,
    bytes: Uint8Array,
    commit: boolean,
    signal?: AbortSignal,
    expected?: Uint8Array,
  ): Promise<void> {
    const handle = await this.#acquireHandle(entry)
    try {
      signal?.throwIfAborted()
      const position = index * entry.blockSize
      await translateDiskFull(`writing block ${index} of ${entry.contentId}`, () => {
        if (expected === undefined) return writeAt(handle, bytes, position)
        handle.assertOpen()
        return handle.track(this.#writeThread.write(handle.fd, position, bytes, expected)).catch((error) => {
          const where = `block ${index} of ${entry.contentId}`
          if (error instanceof BlockMismatchError)
            throw new BlockMismatchError(`${where} does not match its manifest`, index)
          if (error instanceof ThreadWriteError)
            throw new ThreadWriteError(`writing ${where}: ${error.message}`, error.code)
          throw error
        })
      })
    } finally {
      await this.#releaseHandle(entry)
    }
    // The data is written before any bitmap marks it; neither is fsynced until the blob completes
    // (an fsync per 256 KiB block made a mirror disk-bound). A crashed process loses nothing, the
    // OS has the writes; a power cut may leave marked blocks unwritten, which every read's
    // verification catches and drops. Aborted now, the bytes are in the file but never marked.
    signal?.throwIfAborted()
    entry.pending ??= new Set()
    entry.pending.add(index)
    if (commit) await this.#persist(entry)
  }

  /** The blob's open data file (created if need be), for one more user until #releaseHandle. */
  async #acquireHandle(entry: Entry): Promise<DataHandle> {
    entry.handleUsers++
    try {
      entry.handle ??= this.#openHandle(entry)
      return await entry.handle
    } catch (error) {
      entry.handleUsers--
      throw error
    }
  }

  #openHandle(entry: Entry): Promise<DataHandle> {
    // In the blob's chain: never while its file is being renamed or removed.
    let opened: DataHandle | undefined
    const run = this.#exclusive(entry, async () => {
      if (entry.removed) throw removedError(entry)
      const kind = entry.file ?? 'partial'
      opened = await translateDiskFull(`opening the data file of ${entry.contentId}`, () =>
        openDataFile(blobFile(this.dir, entry.contentId, kind)),
      )
      entry.file = kind
      entry.openHandle = opened
    })
    const handle = run.then(() => opened!)
    // A failed open is not kept: the next write tries again.
    handle.catch(() => {
      if (entry.handle === handle) entry.handle = undefined
    })
    return handle
  }

  async #releaseHandle(entry: Entry): Promise<void> {
    entry.handleUsers--
    if (entry.handleUsers > 0 || !entry.handle) return
    const handle = entry.handle
    entry.handle = undefined
    entry.openHandle = undefined
    // In the chain, so that a persist that took the handle finishes with it first.
    await this.#exclusive(entry, async () => {
      await (await handle.catch(() => undefined))?.close().catch(() => {})
    })
  }

  /** Commits the blob's bitmap to disk; concurrent requests share one commit (group commit). */
  #persist(entry: Entry): Promise<void> {
    if (entry.persistQueued) return entry.persistQueued
    const run = this.#exclusive(entry, () => {
      entry.persistQueued = undefined
      return this.#persistNow(entry)
    })
    entry.persistQueued = run
    return run
  }

  async #persistNow(entry: Entry): Promise<void> {
    if (entry.removed) throw removedError(entry)
    const batch = entry.pending ? [...entry.pending] : []
    entry.pending?.clear()
    if (!entry.file || (!entry.bitmap && entry.file === 'blob')) return
    const fileOf = (kind: BlobFileKind) => blobFile(this.dir, entry.contentId, kind)
    await translateDiskFull(`committing blocks of ${entry.contentId}`, async () => {
      const next = entry.bitmap ? entry.bitmap.clone() : Bitmap.full(entry.blocks)
      for (const index of batch) next.set(index)
      if (next.isFull) {
        if (entry.file === 'partial') {
          // Complete: make the data durable (the one fsync of a blob), then name it a blob. The
          // folder is not fsynced: should a power cut undo the rename, the .partial is found again
          // with its blocks verified on open (see recover.ts), which costs time, never a wrong byte.
          await this.#syncData(entry, fileOf('partial'))
          renameNow(fileOf('partial'), fileOf('blob'))
          entry.file = 'blob'
          // Derivable from the data from now on (and still in the manifest cache for a while).
          entry.unsavedManifest = undefined
        }
        if (entry.bitmapOnDisk) {
          await removeFile(fileOf('bitmap'))
          entry.bitmapOnDisk = false
        }
      } else {
        entry.bitmapOnDisk = true
        await replaceFile(fileOf('bitmap'), next.encode(), undefined, { durable: false })
        if (entry.file === 'blob') {
          // A block of a complete blob was dropped: the bitmap now tells which blocks are good.
          await fs.rename(fileOf('blob'), fileOf('partial'))
          entry.file = 'partial'
          await syncDir(shardOf(this.dir, entry.contentId))
        }
      }
    })
    if (entry.removed) throw removedError(entry)
    // Apply to the live bitmap, where reads may have dropped blocks meanwhile (their own persist follows).
    const live = entry.bitmap
    if (!live) return
    for (const index of batch) {
      if (live.has(index)) continue
      live.set(index)
      const length = blockLength(entry, index)
      entry.dataBytes += length
      this.#bytes += length
    }
    if (live.isFull) entry.bitmap = undefined
  }

  /** fdatasync of the data file, through the open handle if there is one. */
  async #syncData(entry: Entry, file: string): Promise<void> {
    if (entry.openHandle) return syncData(entry.openHandle)
    const handle = await openDataFile(file)
    try {
      await syncData(handle)
    } finally {
      await handle.close()
    }
  }

  async #readVerified(entry: Entry, index: number, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const manifest = await this.#manifest(entry, signal)
    if (!manifest) return undefined
    const read = () =>
      this.#withDataFile(entry, (file) => readAt(file, blockLength(entry, index), index * entry.blockSize))
    try {
      // Twice before dropping: the block may have been dropped by another reader and rewritten while
      // this read ran, in which case the second read sees the good bytes.
      for (let attempt = 0; attempt < 2; attempt++) {
        const bytes = await read()
        signal?.throwIfAborted()
        if (verifyBlock(manifest, index, bytes)) return bytes
        if (!isPresent(entry, index)) return undefined
      }
    } catch (error) {
      if (error instanceof BlobRemovedError) return undefined
      throw error
    }
    this.#dropBlock(entry, index)
    return undefined
  }

  /** The block failed verification on disk: forget it, so it is fetched again. */
  #dropBlock(entry: Entry, index: number): void {
    if (entry.removed || this.#entries.get(entry.contentId) !== entry || !isPresent(entry, index)) return
    if (!entry.manifestOnDisk) {
      // Its one block was the blob, and its manifest came from it: nothing of it is left to keep.
      void this.#track(this.#remove(entry).catch(() => {}))
      return
    }
    entry.bitmap ??= Bitmap.full(entry.blocks)
    entry.bitmap.clear(index)
    const length = blockLength(entry, index)
    entry.dataBytes -= length
    this.#bytes -= length
    // Best effort: if this commit fails, the block fails verification again after a restart.
    void this.#track(this.#persist(entry).catch(() => {}))
  }

  /**
   * Runs `fn` on the blob's data file path. The file is renamed (.partial <-> .blob) by persists; a
   * path that vanished is retried once the blob's file operations have settled.
   */
  async #withDataFile<T>(entry: Entry, fn: (file: string) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (entry.removed || !entry.file) throw removedError(entry)
      try {
        return await fn(blobFile(this.dir, entry.contentId, entry.file))
      } catch (error) {
        if (!isNotFound(error)) throw error
        if (attempt === 0) {
          await entry.chain
          continue
        }
        if (entry.removed) throw removedError(entry)
        // Deleted from outside: everything the bitmap claimed is gone.
        this.#loseData(entry)
        throw new BlobRemovedError(`the data file of ${entry.contentId} disappeared`)
      }
    }
  }

  #loseData(entry: Entry): void {
    this.#bytes -= entry.dataBytes
    entry.dataBytes = 0
    entry.file = undefined
    entry.bitmap = new Bitmap(entry.blocks)
    void this.#track(removeFile(blobFile(this.dir, entry.contentId, 'bitmap')).catch(() => {}))
  }

  async #manifest(entry: Entry, signal?: AbortSignal): Promise<Manifest | undefined> {
    const cached = this.#manifests.get(entry.contentId) ?? entry.unsavedManifest
    if (cached) return cached
    let manifest: Manifest
    try {
      manifest = entry.manifestOnDisk
        ? verifyManifest(
            entry.contentId,
            await fs.readFile(blobFile(this.dir, entry.contentId, 'manifest'), { signal }),
          )
        : await this.#derivedManifest(entry)
    } catch (error) {
      if (signal?.aborted) throw error
      // Removed meanwhile (evicted, or its data deleted from outside): gone, as without a manifest.
      if (error instanceof BlobRemovedError) return undefined
      const bad = error instanceof MalformedManifestError || error instanceof ManifestMismatchError
      if (!bad && !isNotFound(error)) throw error
      // Without its manifest no block of the blob can be verified: it goes.
      await this.#remove(entry)
      return undefined
    }
    if (this.#entries.get(entry.contentId) === entry) this.#manifests.set(entry.contentId, manifest)
    return manifest
  }

  /**
   * The manifest of a complete one-block blob, from its data: the blob is exactly what its content ID
   * names if the manifest built from it hashes to that ID (ManifestMismatchError if not).
   */
  async #derivedManifest(entry: Entry): Promise<Manifest> {
    if (entry.file !== 'blob')
      throw new ManifestMismatchError(`${entry.contentId} has no data to derive a manifest from`)
    const bytes = await this.#withDataFile(entry, (file) => readAt(file, entry.blockSize + 1, 0))
    const { manifest, contentId } = manifestOf(bytes, entry.blockSize)
    if (contentId !== entry.contentId || manifest.size !== entry.size) {
      throw new ManifestMismatchError(`the data of ${entry.contentId} does not hash to it`)
    }
    return manifest
  }

  async #remove(entry: Entry): Promise<void> {
    if (entry.removed) return
    entry.removed = true
    this.#entries.delete(entry.contentId)
    this.#lru.delete(entry.contentId)
    this.#manifests.delete(entry.contentId)
    this.#accessDirty.delete(entry.contentId)
    this.#bytes -= entryBytes(entry)
    await this.#exclusive(entry, async () => {
      // Data first: a crash in between leaves a known blob with no data, which is consistent.
      for (const kind of ['blob', 'partial', 'bitmap', 'manifest'] as const) {
        await removeFile(blobFile(this.dir, entry.contentId, kind))
      }
    })
  }

  async #evict(
    except: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ evicted: string[]; freedBytes: number }> {
    const run = this.#evictChain.then(async () => {
      const evicted: string[] = []
      let freedBytes = 0
      for (const entry of [...this.#lru.values()]) {
        if (this.#bytes <= this.#limit) break
        signal?.throwIfAborted()
        if (
          entry.contentId === except ||
          entry.writing ||
          entry.pending?.size ||
          entry.handleUsers > 0 ||
          entry.removed
        )
          continue
        freedBytes += entryBytes(entry)
        evicted.push(entry.contentId)
        await this.#remove(entry)
      }
      return { evicted, freedBytes }
    })
    this.#evictChain = run.catch(() => {})
    return run
  }

  /** After a write: evict if over the limit, but never the blob just written (that would thrash). */
  async #autoEvict(except: string | undefined): Promise<void> {
    if (this.#bytes <= this.#limit) return
    // A failed eviction does not fail the write that triggered it; the next write tries again.
    await this.#track(this.#evict(except)).catch(() => {})
  }

  #savePins(signal?: AbortSignal): Promise<void> {
    // Saves run one after another, each writing the state as it is when it starts.
    const run = this.#pinsChain.then(() =>
      translateDiskFull('saving pins', () =>
        replaceFile(path.join(this.dir, PINS_FILE), encodePins(this.#pins), signal),
      ),
    )
    this.#pinsChain = run.catch(() => {})
    return run
  }

  #unpinInMemory(contentId: string): void {
    this.#pins.delete(contentId)
    const entry = this.#entries.get(contentId)
    if (!entry) return
    this.#saveAccessLater(contentId)
    const newest = [...this.#lru.values()].at(-1)
    if (!newest || newest.lastAccess <= entry.lastAccess) {
      this.#lru.set(contentId, entry)
      return
    }
    // Back into its place by last access (rare, so a rebuild is fine).
    const ordered = [...this.#lru.values(), entry].sort((a, b) => a.lastAccess - b.lastAccess)
    this.#lru.clear()
    for (const e of ordered) this.#lru.set(e.contentId, e)
  }

  /**
   * Writes pending access times as the manifests' mtimes (the .blob's for a derived manifest): no
   * fsync; a crash loses only a little order.
   */
  async #flushAccess(): Promise<void> {
    const ids = [...this.#accessDirty]
    this.#accessDirty.clear()
    for (let i = 0; i < ids.length; i += 32) {
      await Promise.all(
        ids.slice(i, i + 32).map(async (id) => {
          const entry = this.#entries.get(id)
          if (!entry) return
          const seconds = entry.lastAccess / 1000
          const file = entry.manifestOnDisk ? 'manifest' : 'blob'
          await fs.utimes(blobFile(this.dir, id, file), seconds, seconds).catch(() => {})
        }),
      )
    }
  }

  #add(entry: Entry): void {
    this.#entries.set(entry.contentId, entry)
    if (!this.#pins.has(entry.contentId)) this.#lru.set(entry.contentId, entry)
    this.#bytes += entryBytes(entry)
  }

  #exclusive(entry: Entry, fn: () => Promise<void>): Promise<void> {
    const run = entry.chain.then(fn)
    entry.chain = run.catch(() => {})
    return run
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#ops.add(promise)
    const forget = () => this.#ops.delete(promise)
    promise.then(forget, forget)
    return promise
  }

  /** Strictly increasing milliseconds, so LRU order is exact even within one millisecond. */
  #tick(): number {
    this.#clock = Math.max(Date.now(), this.#clock + 1)
    return this.#clock
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError('the block cache is closed')
  }
}

function newEntry(blob: RecoveredBlob): Entry {
  return {
    contentId: blob.contentId,
    size: blob.size,
    blockSize: blob.blockSize,
    blocks: blockCount(blob.size, blob.blockSize),
    manifestBytes: blob.manifestBytes,
    manifestOnDisk: blob.manifestOnDisk,
    unsavedManifest: undefined,
    file: blob.file,
    bitmap: blob.bitmap,
    dataBytes: 0,
    lastAccess: blob.lastAccess,
    removed: false,
    chain: Promise.resolve(),
    persistQueued: undefined,
    pending: undefined,
    writing: undefined,
    handle: undefined,
    openHandle: undefined,
    handleUsers: 0,
    bitmapOnDisk: blob.file === 'partial',
  }
}

function isPresent(entry: Entry, index: number): boolean {
  if (!Number.isInteger(index) || index < 0 || index >= entry.blocks) return false
  return entry.bitmap ? entry.bitmap.has(index) : true
}

function blockLength(entry: Entry, index: number): number {
  return Math.min(entry.blockSize, entry.size - index * entry.blockSize)
}

function presentBytes(entry: Entry): number {
  if (!entry.bitmap) return entry.size
  let bytes = entry.bitmap.count * entry.blockSize
  // The last block is usually shorter.
  if (entry.bitmap.has(entry.blocks - 1)) bytes -= entry.blocks * entry.blockSize - entry.size
  return bytes
}

function entryBytes(entry: Entry): number {
  return entry.manifestBytes + entry.dataBytes
}

function checkId(contentId: string): void {
  if (!isContentId(contentId)) throw new InvalidContentIdError(`not a content ID: ${contentId}`)
}

function checkIndex(entry: Entry, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= entry.blocks) {
    throw new RangeError(`block ${index} is outside 0-${entry.blocks - 1} of ${entry.contentId}`)
  }
}

function checkLimit(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`not a byte limit: ${bytes}`)
}

function removedError(entry: Entry): BlobRemovedError {
  return new BlobRemovedError(`${entry.contentId} was removed from the cache`)
}
