export { Bitmap, MalformedBitmapError } from './bitmap.ts'
export {
  type BlobInfo,
  BlockCache,
  type BlockCacheOptions,
  type CacheUsage,
  DEFAULT_CACHE_LIMIT,
  type PinInfo,
  type PinTotals,
} from './block-cache.ts'
export { BlockMismatchError, ThreadWriteError } from './block-write-thread.ts'
export {
  BlobRemovedError,
  BlockMissingError,
  CacheClosedError,
  CorruptBlockError,
  DiskFullError,
  InvalidContentIdError,
  ManifestMissingError,
} from './errors.ts'
export type { RecoveryReport } from './recover.ts'
