/**
 * The browser's view of src/blobs, chosen over index.ts by the web build (vite.config.ts): content
 * IDs, manifests and the blob wire codec. index.ts re-exports it and adds the Node-only parts (the
 * file store, the block cache, atomic files); the browser keeps its blocks in IndexedDB (src/web).
 */
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
  ManifestMismatchError,
  verifyBlock,
  verifyManifest,
} from './content-id.ts'
export {
  BLOCK_MESSAGE_HEADER_BYTES,
  BlobErrorCode,
  type BlobRequest,
  type BlobResponse,
  type BlockResponse,
  type BlocksRequest,
  CONTENT_ID_BYTES,
  decodeRequest,
  decodeResponse,
  type EndResponse,
  type ErrorResponse,
  encodeBlockHeader,
  encodeRequest,
  encodeResponse,
  MAX_BLOCK_BYTES,
  MAX_BLOCKS_PER_REQUEST,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES,
  MalformedBlobMessageError,
  type ManifestRequest,
  type ManifestResponse,
  MessageKind as BlobMessageKind,
  UnknownBlobErrorCodeError,
  UnknownBlobMessageKindError,
} from './wire.ts'
