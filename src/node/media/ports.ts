import type { Manifest } from '../../blobs/index.ts'

/**
 * What the media layer needs from the block cache and the blob protocol, as structural types so
 * this layer can be tested with fakes. Implemented by BlockCache (src/blobs/cache) and the
 * blob-exchange libp2p service (src/node/protocols/blob).
 */
export interface CachePort {
  getManifest(contentId: string): Promise<Manifest | undefined> | Manifest | undefined
  putManifest(contentId: string, manifest: Manifest): Promise<void>
  hasBlock(contentId: string, index: number): boolean
  readBlock(contentId: string, index: number, signal?: AbortSignal): Promise<Uint8Array | undefined>
  writeBlock(contentId: string, index: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
  touch(contentId: string): void
}

export interface ExchangePort {
  fetchManifest(peer: string, contentId: string, options?: { signal?: AbortSignal }): Promise<Manifest>
  fetchBlocks(
    peer: string,
    contentId: string,
    manifest: Manifest,
    first: number,
    count: number,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<{ index: number; bytes: Uint8Array }>
}

/** The part of the cache that pins and mirroring use, on top of CachePort. */
export interface PinCachePort extends CachePort {
  pin(contentId: string, label?: string): Promise<void>
  pinMany(contentIds: string[], label?: string): Promise<void>
  unpin(contentId: string): Promise<void>
  isPinned(contentId: string): boolean
  isComplete(contentId: string): boolean
  missingBlocks(contentId: string, first?: number, count?: number): number[]
  /** Writes many blocks of one blob, committed a run at a time (BlockCache.writer). */
  writer(contentId: string): {
    write(index: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
    /** Verified by the cache as it writes them; takes the bytes (BlockCache.writer). */
    writeUnverified(index: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
    commit(signal?: AbortSignal): Promise<void>
    close(): Promise<void>
  }
  pins(): Array<{
    contentId: string
    label?: string
    complete: boolean
    bytes: number
    size: number | undefined
  }>
}
