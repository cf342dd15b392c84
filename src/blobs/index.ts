/**
 * src/blobs for Node: what the browser gets (index.browser.ts: content IDs, manifests, the blob wire
 * codec), plus the Node-only parts: the block cache, the cover store, atomic files and the hashing
 * of whole files.
 */

export { writeFileAtomic } from './atomic-file.ts'
export {
  type BlobInfo,
  BlobRemovedError,
  BlockCache,
  type BlockCacheOptions,
  BlockMismatchError,
  BlockMissingError,
  CacheClosedError,
  type CacheUsage,
  CorruptBlockError,
  DEFAULT_CACHE_LIMIT,
  DiskFullError,
  InvalidContentIdError,
  ManifestMissingError,
  type PinInfo,
  type RecoveryReport,
  ThreadWriteError,
} from './cache/index.ts'
export { ManifestBuilder, manifestOf, verifyBlockOnce } from './content-id.ts'
export { Descriptor, DescriptorClosedError } from './descriptor.ts'
export { BlobNotFoundError, CorruptBlobError, FsBlobStore } from './fs-blob-store.ts'
export * from './index.browser.ts'
export { type IoPolicy, SyncWhileFast, THREAD_POOL } from './sync-while-fast.ts'
