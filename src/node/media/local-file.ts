import { promises as fs } from 'node:fs'
import { dirname } from 'node:path'
import { Descriptor, type Manifest, SyncWhileFast, THREAD_POOL } from '../../blobs/index.ts'
import type { Device } from '../device/device.ts'
import { FileIndex } from '../scanner/file-index.ts'
import { ManifestStore } from '../scanner/manifest-store.ts'
import { ContentIndex } from './content-index.ts'
import { onLocalFileSystem } from './file-system-kind.ts'

export class BlobChangedError extends Error {
  override name = 'BlobChangedError'
}

export interface LocalFile {
  path: string
  size: number
  /** The file's mtime when it was hashed (whole milliseconds, as in the file index). */
  mtimeMs: number
  manifest: Manifest
}

/**
 * This device's own copy of a content ID: one of its library files, served from its original path
 * (shared/ARCHITECTURE.md decision 3), only while it is unchanged since it was hashed (same size and
 * mtime as in the file index). A changed file is not served; the next scan reads it again.
 */
export class LocalFiles {
  readonly #device: Device
  readonly #files: FileIndex
  readonly #manifests: ManifestStore
  /** contentId -> track ids, shared with the blob fetcher. */
  readonly tracksByContent: ContentIndex

  constructor(device: Device) {
    this.#device = device
    this.#files = new FileIndex(device.db)
    this.#manifests = new ManifestStore(device.db)
    this.tracksByContent = new ContentIndex(device.catalog)
  }

  /** An unchanged local file with this content, or undefined. */
  async find(trackId: string, contentId: string): Promise<LocalFile | undefined> {
    for (const path of this.#pathsOf(trackId)) {
      const file = await this.#recorded(path, contentId)
      if (file !== undefined && (await isUnchanged(path, file))) return file
    }
    return undefined
  }

  /**
   * Opens an unchanged local file with this content for reading its blocks (a peer asks for a
   * content ID, not a track), or undefined. The size and mtime are checked on the open handle, so
   * a peer's request costs one open and one fstat besides the reads.
   */
  async openContent(contentId: string): Promise<{ file: LocalFile; reader: LocalBlobReader } | undefined> {
    for (const trackId of this.tracksByContent.tracksOf(contentId)) {
      for (const path of this.#pathsOf(trackId)) {
        const file = await this.#recorded(path, contentId)
        if (file === undefined) continue
        // Changed or moved since the scan: try the next copy. Any other error (no file descriptors
        // left, no permission) is the request's.
        const reader = await openLocalBlob(file).catch((error: unknown) => {
          if (error instanceof BlobChangedError || isGone(error)) return undefined
          throw error
        })
        if (reader !== undefined) return { file, reader }
      }
    }
    return undefined
  }

  #pathsOf(trackId: string): string[] {
    const { catalog, deviceId } = this.#device
    // Most tracks a mirror asks about are on other devices: no need to read their folders then.
    return catalog.devicesHolding(trackId).includes(deviceId) ? catalog.pathsOn(trackId, deviceId) : []
  }

  /**
   * What the file index and the manifests say of `path`, if it held `contentId` when scanned.
   * Synchronous reads (classic-level's getSync, from LevelDB's caches): these run for every block
   * request a peer sends, and a turn in libuv's thread pool each cost far more than the lookup.
   */
  async #recorded(path: string, contentId: string): Promise<LocalFile | undefined> {
    const entry = await this.#files.getNow(path)
    if (entry?.contentId !== contentId) return undefined
    const manifest = await this.#manifests.getNow(contentId)
    if (manifest === undefined) return undefined
    return { path, size: entry.size, mtimeMs: entry.mtimeMs, manifest }
  }
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

async function isUnchanged(path: string, entry: { size: number; mtimeMs: number }): Promise<boolean> {
  try {
    const stats = await fs.stat(path)
    return stats.size === entry.size && Math.trunc(stats.mtimeMs) === entry.mtimeMs
  } catch {
    return false
  }
}

/** Blocks of a local file read through one open handle (a peer usually asks for several). */
export interface LocalBlobReader {
  /** `into`: a buffer to read into (when it is large enough), instead of a new one. */
  readBlock(index: number, signal?: AbortSignal, into?: Uint8Array): Promise<Uint8Array>
  close(): Promise<void>
}

/** How often an open file's size and mtime are checked again while it is being read. */
const RECHECK_MS = 1000

/**
 * Opens, fstats, reads and closes of served files run synchronously while the page cache answers them
 * (a 256 KiB read: ~30-60 µs), in libuv's thread pool while the disk is slow (SyncWhileFast). Through
 * the pool, each call stalled the sender's main thread ~150 µs on a busy 2-core machine (it waits for
 * a core the woken pool thread took): reads alone were 0.66 s of the sender's 4.5 busy seconds in a
 * mirror of 1 GiB (CPU profile), and a small file costs an open, an fstat, a read and a close.
 * Files on a network or FUSE file system always take the pool (file-system-kind.ts): a call there
 * may hang for as long as the server is away.
 */
const servedFileIo = new SyncWhileFast()

/**
 * Opens a local file for serving its blocks: refuses it (BlobChangedError) unless its size and
 * mtime are still those it was hashed with, and checks them again at most every RECHECK_MS while
 * serving (a short read is caught at once; a same-size rewrite in between fails the receiver's
 * verification of every block).
 */
export async function openLocalBlob(file: LocalFile): Promise<LocalBlobReader> {
  const io = (await onLocalFileSystem(dirname(file.path))) ? servedFileIo : THREAD_POOL
  const descriptor = await Descriptor.open(file.path, 'r', io)
  let checkedAt = 0
  const check = async () => {
    const stats = await descriptor.stat()
    if (stats.size !== file.size || Math.trunc(stats.mtimeMs) !== file.mtimeMs) {
      throw new BlobChangedError(`${file.path} changed since it was scanned`)
    }
    checkedAt = performance.now()
  }
  try {
    await check()
  } catch (error) {
    // The refusal is the news, not a failed close.
    await descriptor.close().catch(() => {})
    throw error
  }
  const { blockSize, size } = file.manifest
  return {
    async readBlock(index, signal, into) {
      signal?.throwIfAborted()
      if (performance.now() - checkedAt > RECHECK_MS) await check()
      const start = index * blockSize
      const length = Math.min(blockSize, size - start)
      const buffer =
        into !== undefined && into.length >= length
          ? Buffer.from(into.buffer, into.byteOffset, length)
          : Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        // Checked open at every call (Descriptor): the blob may be closed while this awaits.
        const bytesRead = await descriptor.read(buffer, done, length - done, start + done)
        if (bytesRead === 0) throw new BlobChangedError(`${file.path} is shorter than when it was scanned`)
        done += bytesRead
      }
      return buffer
    },
    close: () => descriptor.close(),
  }
}
