import { promises as fs } from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from './atomic-file.ts'
import { isContentId, manifestOf } from './content-id.ts'

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError'
}

export class CorruptBlobError extends Error {
  override name = 'CorruptBlobError'
}

/**
 * Small whole blobs (cover art) on disk, named by their content ID, under `<dir>/<2 chars>/<id>`.
 * Writes are atomic; reads verify the bytes against the ID, and a corrupt file is removed.
 */
export class FsBlobStore {
  readonly dir: string

  constructor(dir: string) {
    this.dir = dir
  }

  pathOf(id: string): string {
    if (!isContentId(id)) throw new BlobNotFoundError(`not a content ID: ${id}`)
    return path.join(this.dir, id.slice(0, 2), id)
  }

  async has(id: string): Promise<boolean> {
    try {
      await fs.access(this.pathOf(id))
      return true
    } catch {
      return false
    }
  }

  /** Stores `bytes` unless they are already there; returns their content ID. */
  async put(bytes: Uint8Array, signal?: AbortSignal): Promise<string> {
    const { contentId } = manifestOf(bytes)
    if (await this.has(contentId)) return contentId
    const target = this.pathOf(contentId)
    await fs.mkdir(path.dirname(target), { recursive: true })
    await writeFileAtomic(target, bytes, { signal })
    return contentId
  }

  async get(id: string, signal?: AbortSignal): Promise<Uint8Array> {
    let bytes: Uint8Array
    try {
      bytes = await fs.readFile(this.pathOf(id), { signal })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(`no blob ${id}`)
      throw error
    }
    if (manifestOf(bytes).contentId !== id) {
      await fs.rm(this.pathOf(id), { force: true })
      throw new CorruptBlobError(`blob ${id} was corrupt on disk and has been removed`)
    }
    return bytes
  }
}
