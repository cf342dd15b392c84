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
      return { path, size: entry.size, manifest }
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

/** Reads one block of a local file, re-checking that the file did not change meanwhile. */
export async function readLocalBlock(
  file: LocalFile,
  index: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  signal?.throwIfAborted()
  const { blockSize, size } = file.manifest
  const start = index * blockSize
  const length = Math.min(blockSize, size - start)
  const handle = await fs.open(file.path, 'r')
  try {
    const stats = await handle.stat()
    if (stats.size !== file.size) throw new BlobChangedError(`${file.path} changed since it was scanned`)
    const buffer = Buffer.allocUnsafe(length)
    const { bytesRead } = await handle.read(buffer, 0, length, start)
    if (bytesRead !== length) throw new BlobChangedError(`${file.path} is shorter than when it was scanned`)
    return buffer
  } finally {
    await handle.close()
  }
}
