import { type BlockCache, type FsBlobStore, manifestOf } from '../../blobs/index.ts'
import type { BlobProvider, ServedBlob } from '../protocols/blob/index.ts'
import type { LocalFiles } from './local-file.ts'

class CachedBlockMissingError extends Error {
  override name = 'BlobNotFoundError'
}

/**
 * What this device serves to the library's other devices: its own files (from their original
 * paths, while unchanged), complete blobs in its cache (pins, a mirror), and cover art.
 */
export class NodeBlobProvider implements BlobProvider {
  readonly #local: LocalFiles
  readonly #cache: BlockCache
  readonly #covers: FsBlobStore

  constructor(local: LocalFiles, cache: BlockCache, covers: FsBlobStore) {
    this.#local = local
    this.#cache = cache
    this.#covers = covers
  }

  async open(contentId: string, signal?: AbortSignal): Promise<ServedBlob | undefined> {
    const local = await this.#local.openContent(contentId)
    if (local !== undefined) {
      const { file, reader } = local
      return { manifest: file.manifest, readBlock: reader.readBlock, close: reader.close }
    }
    if (this.#cache.isComplete(contentId)) {
      const manifest = await this.#cache.getManifest(contentId, signal)
      if (manifest !== undefined) {
        return {
          manifest,
          readBlock: async (index, s) => {
            const bytes = await this.#cache.readBlock(contentId, index, s)
            if (bytes === undefined)
              throw new CachedBlockMissingError(`block ${index} is no longer in the cache`)
            return bytes
          },
          close: async () => {},
        }
      }
    }
    if (await this.#covers.has(contentId)) {
      const bytes = await this.#covers.get(contentId, signal)
      const { manifest } = manifestOf(bytes)
      return {
        manifest,
        readBlock: async (index) =>
          bytes.subarray(index * manifest.blockSize, (index + 1) * manifest.blockSize),
        close: async () => {},
      }
    }
    return undefined
  }
}
