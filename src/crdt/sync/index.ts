/**
 * Catalog sync framing: y-protocols messages in a thin envelope that names the library and the
 * message kind, split into bounded chunks. Pure and transport-agnostic (no libp2p, no DOM); the
 * libp2p service lives in src/node/protocols/catalog-sync.
 */
export { type Message, MessageAssembler, type MessageAssemblerOptions, splitMessage } from './chunking.ts'
export {
  LibraryMismatchError,
  MalformedFrameError,
  MessageTooLargeError,
  UpdateRejectedError,
} from './errors.ts'
export {
  type DecodeFrameOptions,
  decodeFrame,
  encodeFrame,
  FRAME_VERSION,
  type Frame,
  FrameKind,
  frameKindName,
  isFrameKind,
} from './frame.ts'
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_FRAME_BYTES,
  MAX_FRAME_OVERHEAD_BYTES,
  MAX_FRAME_PAYLOAD_BYTES,
  MAX_LIBRARY_ID_LENGTH,
} from './limits.ts'
export { type ReceiveResult, SyncSession, type SyncSessionInit } from './session.ts'
