const MiB = 1024 * 1024

/** Payload bytes per frame when a message is split. Keeps every stream message far below the 4 MiB buffers of libp2p streams. */
export const DEFAULT_CHUNK_BYTES = 1 * MiB

/** A receiver refuses frames whose payload is larger than this (leaves room for senders with other chunk sizes). */
export const MAX_FRAME_PAYLOAD_BYTES = 2 * MiB

/** Bytes a frame adds around its payload, at most (version, library id, kind, chunk fields, payload length). */
export const MAX_FRAME_OVERHEAD_BYTES = 1024

/** Largest encoded frame a receiver accepts. */
export const MAX_FRAME_BYTES = MAX_FRAME_PAYLOAD_BYTES + MAX_FRAME_OVERHEAD_BYTES

/** Largest reassembled message. A 100k-track catalog's full state is ~30 MB (ARCHITECTURE.md, decision 1). */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * MiB

/** Library ids are short opaque strings; a longer one is garbage. */
export const MAX_LIBRARY_ID_LENGTH = 256
