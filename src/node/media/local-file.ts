import { promises as fs } from 'node:fs'
import type { Manifest } from '../../blobs/index.ts'
import type { Device } from '../device/device.ts'
import { FileIndex } from '../scanner/file-index.ts'
import { ManifestStore } from '../scanner/manifest-store.ts'
import { ContentIndex } from './content-index.ts'

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
    const paths = this.#device.catalog.pathsOn(trackId, this.#device.deviceId)
    for (const path of paths) {
      const entry = await this.#files.get(path)
      if (entry?.contentId !== contentId) continue
      if (!(await isUnchanged(path, entry))) continue
      const manifest = await this.#manifests.get(contentId)
      if (manifest === undefined) continue
      return { path, size: entry.size, mtimeMs: entry.mtimeMs, manifest }
    }
    return undefined
  }

  /** Like find, by content alone (a peer asks for a content ID, not a track). */
  async findContent(contentId: string): Promise<LocalFile | undefined> {
    for (const trackId of this.tracksByContent.tracksOf(contentId)) {
      const file = await this.find(trackId, contentId)
      if (file !== undefined) return file
    }
    return undefined
  }
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
 * Opens a local file for serving its blocks: refuses it (BlobChangedError) unless its size and
 * mtime are still those it was hashed with, and checks them again at most every RECHECK_MS while
 * serving (a short read is caught at once; a same-size rewrite in between fails the receiver's
 * verification of every block).
 */
export async function openLocalBlob(file: LocalFile): Promise<LocalBlobReader> {
  const handle = await fs.open(file.path, 'r')
  let checkedAt = 0
  const check = async () => {
    const stats = await handle.stat()
    if (stats.size !== file.size || Math.trunc(stats.mtimeMs) !== file.mtimeMs) {
      throw new BlobChangedError(`${file.path} changed since it was scanned`)
    }
    checkedAt = performance.now()
  }
  try {
    await check()
  } catch (error) {
    await handle.close()
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
        const { bytesRead } = await handle.read(buffer, done, length - done, start + done)
        if (bytesRead === 0) throw new BlobChangedError(`${file.path} is shorter than when it was scanned`)
        done += bytesRead
      }
      return buffer
    },
    close: () => handle.close(),
  }
}
