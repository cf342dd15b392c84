export { writeFileAtomic } from './atomic-file.ts'
export { base32Encode } from './base32.ts'
export {
  BLOCK_SIZE,
  blockCount,
  blockHash,
  contentIdOfManifest,
  decodeManifest,
  encodeManifest,
  isContentId,
  MalformedManifestError,
  type Manifest,
  ManifestBuilder,
  ManifestMismatchError,
  manifestOf,
  verifyBlock,
  verifyManifest,
} from './content-id.ts'
export { BlobNotFoundError, CorruptBlobError, FsBlobStore } from './fs-blob-store.ts'
