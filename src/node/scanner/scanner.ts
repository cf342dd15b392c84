import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { FsBlobStore } from '../../blobs/index.ts'
import type { BatchOp, Catalog, CoverRecord, LevelCatalogStore } from '../../crdt/index.ts'
import { FileIndex, type FileIndexEntry, isUnchanged } from './file-index.ts'
import { ManifestStore } from './manifest-store.ts'
import { type ReadOutcome, readMediaFile } from './read-media.ts'
import { ReaderPool } from './reader-pool.ts'
import { sniff } from './sniff.ts'
import { buildTrackRecord } from './track-record.ts'
import { describeFsError, type WalkedFile, walkRoots } from './walk.ts'

/**
 * The scan pipeline: walk -> compare with the file index -> read what changed (hash + tags in one
 * pass) -> write catalog changes, file index and manifests in batches, each batch one atomic
 * LevelDB write -> drop the locations of files that are gone. Per-file problems flow into the report;
 * they never stop the scan.
 */

export interface ScanTarget {
  deviceId: string
  catalog: Catalog
  store: LevelCatalogStore
  db: ConstructorParameters<typeof FileIndex>[0]
  covers: FsBlobStore
}

export interface ScanProgress {
  phase: 'walking' | 'reading' | 'removing' | 'done'
  filesDone: number
  filesTotal: number
  bytesDone: number
  bytesTotal: number
  elapsedMs: number
}

export interface SkippedFile {
  path: string
  reason: string
}

export interface ScanReport {
  roots: string[]
  /** Files found (media and junk; hidden files not counted). */
  files: number
  /** Files read this time (new or changed). */
  read: number
  bytesRead: number
  unchanged: number
  added: number
  updated: number
  removed: number
  /** Tracks (and videos) this device holds after the scan. */
  tracks: number
  skipped: SkippedFile[]
  durationMs: number
}

/** From this many files to read on, a scan reads on worker threads (starting them costs ~0.1 s). */
const POOL_THRESHOLD = 64

export type MediaReader = (filePath: string, size: number, signal?: AbortSignal) => Promise<ReadOutcome>

const readInProcess: MediaReader = (filePath, size, signal) => readMediaFile(filePath, size, { signal })

export interface ScanOptions {
  signal?: AbortSignal
  onProgress?: (progress: ScanProgress) => void
  /** Files read at once; reading overlaps I/O with hashing and parsing. */
  concurrency?: number
  /** Files per catalog batch (one Yjs update and one LevelDB write each). */
  batchSize?: number
  reader?: MediaReader
  now?: () => number
}

interface ReadResult {
  file: WalkedFile
  outcome: ReadOutcome
  cover: { id: string; record: CoverRecord } | null
}

export async function scan(
  target: ScanTarget,
  rootsIn: string[],
  options: ScanOptions = {},
): Promise<ScanReport> {
  const started = performance.now()
  const { signal } = options
  const roots = rootsIn.map((r) => path.resolve(r))
  const now = options.now ?? Date.now
  const fileIndex = new FileIndex(target.db)
  const manifests = new ManifestStore(target.db)
  const progress: ScanProgress = {
    phase: 'walking',
    filesDone: 0,
    filesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
    elapsedMs: 0,
  }
  const report = () => options.onProgress?.({ ...progress, elapsedMs: performance.now() - started })
  report()

  const indexed = new Map<string, Map<string, FileIndexEntry>>()
  for (const root of roots) indexed.set(root, await fileIndex.entriesUnder(root))
  // A first scan will read everything: start the reader threads now, while the folders are walked.
  let pool: ReaderPool | null = null
  if (options.reader === undefined && [...indexed.values()].every((m) => m.size === 0))
    pool = new ReaderPool()
  try {
    return await scanWith()
  } finally {
    await pool?.close()
  }

  async function scanWith(): Promise<ScanReport> {
    const walked = await walkRoots(roots, signal)
    const skipped: SkippedFile[] = [...walked.problems]
    const known = new Map<string, FileIndexEntry>()
    for (const root of roots) {
      if (walked.unreachableRoots.includes(root)) continue
      for (const [p, entry] of indexed.get(root)!) known.set(p, entry)
    }

    const toRead: WalkedFile[] = []
    let unchanged = 0
    for (const file of walked.files) {
      const entry = known.get(file.path)
      if (isUnchanged(entry, file)) {
        if (entry?.skipped !== undefined) skipped.push({ path: file.path, reason: entry.skipped })
        else unchanged++
      } else toRead.push(file)
    }
    const counts = { added: 0, updated: 0, removed: 0 }
    const seen = new Set(walked.files.map((f) => f.path))
    const gone = await goneFiles(known, seen, walked.walkedDirs)

    progress.phase = 'reading'
    progress.filesTotal = toRead.length
    progress.bytesTotal = toRead.reduce((sum, f) => sum + f.size, 0)
    report()

    if (toRead.length === 0 && gone.length === 0) {
      // Nothing changed: the common case of a rescan, answered without touching the catalog.
      progress.phase = 'done'
      report()
      return finishReport()
    }

    // Many files to read: read them on worker threads. A few (a watch event): read them here.
    if (pool === null && options.reader === undefined && toRead.length >= POOL_THRESHOLD)
      pool = new ReaderPool()
    const reader = options.reader ?? pool?.read ?? readInProcess
    await readAndApply()
    progress.phase = 'done'
    report()
    return finishReport()

    async function readAndApply(): Promise<void> {
      const contentIndex = target.catalog.contentIndex()
      const folderArtCache = new Map<string, Promise<ReadResult['cover']>>()
      const coverFromFolder = (artPath: string) => {
        let pending = folderArtCache.get(artPath)
        if (pending === undefined) {
          pending = fs
            .readFile(artPath, { signal })
            .then(async (bytes) => {
              const sniffed = sniff(bytes.subarray(0, 16))
              if (sniffed.kind !== 'image') return null
              const id = await target.covers.put(bytes, signal)
              return {
                id,
                record: { mime: `image/${sniffed.format}`, size: bytes.length, source: 'folder' as const },
              }
            })
            .catch(() => null) // unreadable folder art is no reason to skip the tracks
          folderArtCache.set(artPath, pending)
        }
        return pending
      }

      const readOne = async (file: WalkedFile): Promise<ReadResult> => {
        let outcome: ReadOutcome
        try {
          outcome = await reader(file.path, file.size, signal)
        } catch (error) {
          if (signal?.aborted) throw error
          outcome = { kind: 'skipped', reason: `cannot be read: ${describeFsError(error)}` }
        }
        let cover: ReadResult['cover'] = null
        if (outcome.kind === 'media') {
          if (outcome.cover !== null) {
            const { bytes, mime } = outcome.cover
            const id = await target.covers.put(bytes, signal)
            cover = { id, record: { mime, size: bytes.length, source: 'embedded' } }
          } else if (file.folderArt !== null && outcome.tags.mediaType === 'audio') {
            cover = await coverFromFolder(file.folderArt)
          }
        }
        progress.filesDone++
        progress.bytesDone += file.size
        return { file, outcome, cover }
      }

      const applyBatch = async (results: ReadResult[]) => {
        const ops: BatchOp[] = []
        target.catalog.transact(() => {
          for (const result of results) {
            applyResult(result, known.get(result.file.path), ops)
          }
        })
        await target.store.commit(ops)
        report()
      }

      const applyResult = (result: ReadResult, previous: FileIndexEntry | undefined, ops: BatchOp[]) => {
        const { file, outcome } = result
        const { catalog, deviceId } = target
        const stat = { size: file.size, mtimeMs: file.mtimeMs, ino: file.ino }
        // What the file held before, read before its entry is dropped (a retagged file keeps its track).
        const previousRecord =
          previous?.trackId === undefined ? undefined : catalog.getTrack(previous.trackId)
        catalog.removeFile(deviceId, file.path)
        if (outcome.kind === 'skipped') {
          skipped.push({ path: file.path, reason: outcome.reason })
          // A file that changed while being read is not remembered, so the next scan reads it again.
          if (!outcome.reason.startsWith('file changed'))
            ops.push(fileIndex.putOp(file.path, { ...stat, skipped: outcome.reason }))
          else ops.push(fileIndex.delOp(file.path))
          return
        }
        let trackId = contentIndex.get(outcome.contentId)
        let existing = trackId === undefined ? undefined : catalog.getTrack(trackId)
        let isNew = false
        if (trackId === undefined || existing === undefined) {
          // New content. If it replaced the content of a track that no file holds any more (a retagged
          // file), the track keeps its id, and with it its favourites, ratings and play counts.
          const reusable = previous?.trackId
          if (reusable !== undefined && previousRecord !== undefined && catalog.fileCount(reusable) === 0) {
            trackId = reusable
            existing = previousRecord
            contentIndex.delete(previousRecord.contentId)
            counts.updated++
          } else {
            trackId = outcome.contentId
            isNew = true
            counts.added++
          }
          contentIndex.set(outcome.contentId, trackId)
        }
        if (result.cover !== null) catalog.putCover(result.cover.id, result.cover.record)
        catalog.putFile(
          deviceId,
          file.path,
          trackId,
          buildTrackRecord({
            path: file.path,
            root: file.root,
            contentId: outcome.contentId,
            size: outcome.size,
            tags: outcome.tags,
            cover: result.cover?.id ?? null,
            addedAt: existing?.addedAt ?? now(),
          }),
        )
        if (isNew || previous?.contentId !== outcome.contentId)
          ops.push(manifests.putOp(outcome.contentId, outcome.manifest))
        ops.push(fileIndex.putOp(file.path, { ...stat, trackId, contentId: outcome.contentId }))
      }

      const concurrency = Math.max(1, options.concurrency ?? (pool === null ? 4 : pool.size * 4))
      const batchSize = Math.max(1, options.batchSize ?? 500)
      let batch: ReadResult[] = []
      let next = 0
      const inFlight = new Set<Promise<void>>()
      let flushing: Promise<void> = Promise.resolve()
      const launch = () => {
        const file = toRead[next++]!
        const task: Promise<void> = readOne(file).then((result) => {
          batch.push(result)
          if (batch.length >= batchSize) {
            const full = batch
            batch = []
            flushing = flushing.then(() => applyBatch(full))
          }
        })
        inFlight.add(task)
        task.finally(() => inFlight.delete(task)).catch(() => {})
      }
      while (next < toRead.length || inFlight.size > 0) {
        signal?.throwIfAborted()
        while (next < toRead.length && inFlight.size < concurrency) launch()
        if (inFlight.size > 0) await Promise.race(inFlight)
      }
      await flushing
      if (batch.length > 0) await applyBatch(batch)

      if (gone.length > 0) {
        progress.phase = 'removing'
        report()
        const ops: BatchOp[] = []
        target.catalog.transact(() => {
          for (const [filePath, entry] of gone) {
            if (entry.trackId !== undefined) {
              target.catalog.removeFile(target.deviceId, filePath)
              if (target.catalog.fileCount(entry.trackId) === 0) counts.removed++
            }
            ops.push(fileIndex.delOp(filePath))
          }
        })
        await target.store.commit(ops)
      }
    }

    function finishReport(): ScanReport {
      return {
        roots,
        files: walked.files.length,
        read: toRead.length,
        bytesRead: progress.bytesDone,
        unchanged,
        ...counts,
        tracks: target.catalog.holdingsOf(target.deviceId).tracks,
        skipped: skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
        durationMs: Math.round(performance.now() - started),
      }
    }
  }
}

/**
 * Index entries whose files were not seen: gone if their folder was walked (so the file is not
 * there) or if the path no longer exists. A folder that could not be read keeps its files.
 */
async function goneFiles(
  known: Map<string, FileIndexEntry>,
  seen: Set<string>,
  walkedDirs: Set<string>,
): Promise<Array<[string, FileIndexEntry]>> {
  const gone: Array<[string, FileIndexEntry]> = []
  for (const [filePath, entry] of known) {
    if (seen.has(filePath)) continue
    if (walkedDirs.has(path.dirname(filePath))) {
      gone.push([filePath, entry])
      continue
    }
    try {
      await fs.lstat(filePath)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') gone.push([filePath, entry])
    }
  }
  return gone
}
