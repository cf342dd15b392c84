import { promises as fs, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import {
  BLOCK_SIZE,
  blockCount,
  isContentId,
  type Manifest,
  verifyBlock,
  verifyManifest,
} from '../content-id.ts'
import { Bitmap } from './bitmap.ts'
import { isNotFound } from './errors.ts'
import { removeFile, replaceFile, syncDir } from './file-io.ts'
import {
  BLOBS_FOLDER,
  type BlobFileKind,
  blobFile,
  DERIVED_MANIFEST_BYTES,
  derivesManifest,
  isTempFileName,
  parseBlobFileName,
  shardOf,
} from './layout.ts'

/** A blob as found on disk when the cache opens. */
export interface RecoveredBlob {
  readonly contentId: string
  readonly size: number
  readonly blockSize: number
  readonly manifestBytes: number
  /** False when the manifest is derived from the data (layout.ts, derivesManifest). */
  readonly manifestOnDisk: boolean
  /** The data file on disk, if any. */
  readonly file: 'partial' | 'blob' | undefined
  /** Present blocks; undefined when the blob is complete. */
  readonly bitmap: Bitmap | undefined
  /** Last access (ms since the epoch): the manifest's mtime (the .blob's for a derived manifest). */
  readonly lastAccess: number
}

/** What opening the cache found and repaired. */
export interface RecoveryReport {
  /** Temp files of atomic replaces that never finished. */
  tempFilesRemoved: number
  /** Blobs whose manifest was missing, unreadable or did not hash to their ID: all their files removed. */
  blobsDropped: string[]
  /** Partial blobs whose bitmap was missing or damaged: rebuilt by verifying every block on disk. */
  bitmapsRebuilt: number
  /** Blocks the bitmap claimed that lie past the end of the data file. */
  blocksDropped: number
}

// The scan reads manifests and stats files with blocking calls, as the scanner's rescan does: a few µs
// each instead of tens through the thread pool (5000 blobs here: ~620 ms async, ~200-300 ms blocking;
// see cache-perf.test.ts).
// It yields to the event loop every so often. Repairs, which are rare, stay asynchronous.
const YIELD_EVERY = 500

/**
 * Scans the cache folder after a clean shutdown or a crash and brings every blob to a state where
 * whatever is marked present was written and fsynced before it was marked (see block-cache.ts).
 */
export async function recoverBlobs(
  root: string,
  signal?: AbortSignal,
): Promise<{ blobs: RecoveredBlob[]; report: RecoveryReport }> {
  const report: RecoveryReport = {
    tempFilesRemoved: 0,
    blobsDropped: [],
    bitmapsRebuilt: 0,
    blocksDropped: 0,
  }
  report.tempFilesRemoved += await removeTempFiles(root)
  const byId = new Map<string, Set<BlobFileKind>>()
  const blobsDir = path.join(root, BLOBS_FOLDER)
  for (const shard of readdirSync(blobsDir, { withFileTypes: true })) {
    signal?.throwIfAborted()
    if (!shard.isDirectory()) continue
    const shardDir = path.join(blobsDir, shard.name)
    report.tempFilesRemoved += await removeTempFiles(shardDir)
    for (const name of readdirSync(shardDir)) {
      const parsed = parseBlobFileName(name)
      if (!parsed) continue
      const kinds = byId.get(parsed.contentId) ?? new Set()
      kinds.add(parsed.kind)
      byId.set(parsed.contentId, kinds)
    }
  }

  const blobs: RecoveredBlob[] = []
  let done = 0
  for (const [id, kinds] of byId) {
    signal?.throwIfAborted()
    const blob = await recoverBlob(root, id, kinds, report, signal)
    if (blob) blobs.push(blob)
    if (++done % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  return { blobs, report }
}

async function removeTempFiles(dir: string): Promise<number> {
  let removed = 0
  for (const name of readdirSync(dir)) {
    if (!isTempFileName(name)) continue
    await removeFile(path.join(dir, name))
    removed++
  }
  return removed
}

async function recoverBlob(
  root: string,
  id: string,
  kinds: Set<BlobFileKind>,
  report: RecoveryReport,
  signal?: AbortSignal,
): Promise<RecoveredBlob | undefined> {
  const fileOf = (kind: BlobFileKind) => blobFile(root, id, kind)
  const drop = async () => {
    for (const kind of kinds) await removeFile(fileOf(kind))
    report.blobsDropped.push(id)
    return undefined
  }
  if (!isContentId(id)) return drop()
  if (!kinds.has('manifest')) {
    // A complete blob of one standard block: its manifest comes from its data, checked against its
    // ID when first used (the blocks of any blob are verified when read). Anything else without a
    // manifest that hashes to its ID cannot be verified.
    // Its size is taken from the file until then (as the block count of any blob is trusted until its
    // blocks are read): a damaged one is dropped at its first use.
    let derived: { size: number; mtimeMs: number } | undefined
    try {
      derived = kinds.has('blob') ? statSync(fileOf('blob')) : undefined
    } catch {}
    if (derived === undefined || !derivesManifest({ size: derived.size, blockSize: BLOCK_SIZE }))
      return drop()
    for (const kind of ['partial', 'bitmap'] as const) if (kinds.has(kind)) await removeFile(fileOf(kind))
    return {
      contentId: id,
      size: derived.size,
      blockSize: BLOCK_SIZE,
      manifestBytes: DERIVED_MANIFEST_BYTES,
      manifestOnDisk: false,
      file: 'blob',
      bitmap: undefined,
      lastAccess: derived.mtimeMs,
    }
  }
  let manifest: Manifest
  let manifestBytes: number
  let lastAccess: number
  try {
    const bytes = readFileSync(fileOf('manifest'))
    manifest = verifyManifest(id, bytes)
    manifestBytes = bytes.length
    lastAccess = statSync(fileOf('manifest')).mtimeMs
  } catch {
    return drop()
  }

  const found = (file: RecoveredBlob['file'], bitmap: Bitmap | undefined): RecoveredBlob => ({
    contentId: id,
    size: manifest.size,
    blockSize: manifest.blockSize,
    manifestBytes,
    manifestOnDisk: true,
    file,
    bitmap,
    lastAccess,
  })
  const blocks = blockCount(manifest.size, manifest.blockSize)
  let file: 'partial' | 'blob' | undefined
  let bitmap: Bitmap
  if (kinds.has('blob')) {
    // A rename is atomic, so .blob and .partial together mean outside interference: .blob wins.
    if (kinds.has('partial')) await removeFile(fileOf('partial'))
    if (statSync(fileOf('blob')).size === manifest.size) {
      if (kinds.has('bitmap')) await removeFile(fileOf('bitmap'))
      return found('blob', undefined)
    }
    // A complete blob of the wrong length was damaged from outside: keep what still verifies.
    await fs.rename(fileOf('blob'), fileOf('partial'))
    bitmap = await rebuildBitmap(fileOf('partial'), manifest, signal)
    report.bitmapsRebuilt++
    await replaceFile(fileOf('bitmap'), bitmap.encode(), signal)
    file = 'partial'
  } else if (kinds.has('partial')) {
    file = 'partial'
    const length = statSync(fileOf('partial')).size
    if (length > manifest.size) await fs.truncate(fileOf('partial'), manifest.size)
    try {
      bitmap = Bitmap.decode(readFileSync(fileOf('bitmap')), blocks)
    } catch {
      // No bitmap (the crash came before the first one was written) or a damaged one.
      bitmap = await rebuildBitmap(fileOf('partial'), manifest, signal)
      report.bitmapsRebuilt++
      await replaceFile(fileOf('bitmap'), bitmap.encode(), signal)
    }
    // Blocks past the end of a truncated file cannot be there.
    let cleared = 0
    for (let i = 0; i < blocks; i++) {
      if (bitmap.has(i) && Math.min((i + 1) * manifest.blockSize, manifest.size) > length) {
        bitmap.clear(i)
        cleared++
      }
    }
    if (cleared > 0) {
      report.blocksDropped += cleared
      await replaceFile(fileOf('bitmap'), bitmap.encode(), signal)
    }
  } else {
    if (kinds.has('bitmap')) await removeFile(fileOf('bitmap'))
    bitmap = new Bitmap(blocks)
  }

  if (bitmap.isFull) {
    // Every block is in (a rebuild found them all, or the blob is empty): make it a .blob.
    if (file === 'partial') await fs.rename(fileOf('partial'), fileOf('blob'))
    else await (await fs.open(fileOf('blob'), 'w')).close()
    await removeFile(fileOf('bitmap'))
    await syncDir(shardOf(root, id))
    return found('blob', undefined)
  }
  return found(file, bitmap)
}

/** Marks the blocks of `file` that verify against the manifest. Reads the file once, a block at a time. */
async function rebuildBitmap(file: string, manifest: Manifest, signal?: AbortSignal): Promise<Bitmap> {
  const blocks = blockCount(manifest.size, manifest.blockSize)
  const bitmap = new Bitmap(blocks)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'r')
  } catch (error) {
    if (isNotFound(error)) return bitmap
    throw error
  }
  try {
    const buffer = Buffer.allocUnsafe(manifest.blockSize)
    for (let i = 0; i < blocks; i++) {
      signal?.throwIfAborted()
      const length = Math.min(manifest.blockSize, manifest.size - i * manifest.blockSize)
      const { bytesRead } = await handle.read(buffer, 0, length, i * manifest.blockSize)
      if (bytesRead === 0) break
      if (bytesRead === length && verifyBlock(manifest, i, buffer.subarray(0, length))) bitmap.set(i)
    }
  } finally {
    await handle.close()
  }
  return bitmap
}
