import type { Manifest } from '../content-id.ts'

/**
 * The most recently used manifests, bounded by the bytes of their block hashes. Only these stay in
 * memory: a mirror of 500 GB holds ~60 MB of block hashes, which the cache reads back on demand.
 */
export class ManifestCache {
  readonly maxBytes: number
  #entries = new Map<string, Manifest>()
  #bytes = 0

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes
  }

  get(contentId: string): Manifest | undefined {
    const manifest = this.#entries.get(contentId)
    if (manifest) {
      this.#entries.delete(contentId)
      this.#entries.set(contentId, manifest)
    }
    return manifest
  }

  set(contentId: string, manifest: Manifest): void {
    this.delete(contentId)
    this.#entries.set(contentId, manifest)
    this.#bytes += manifest.blockHashes.length
    for (const [id, oldest] of this.#entries) {
      if (this.#bytes <= this.maxBytes || id === contentId) break
      this.#entries.delete(id)
      this.#bytes -= oldest.blockHashes.length
    }
  }

  delete(contentId: string): void {
    const manifest = this.#entries.get(contentId)
    if (!manifest) return
    this.#entries.delete(contentId)
    this.#bytes -= manifest.blockHashes.length
  }
}
