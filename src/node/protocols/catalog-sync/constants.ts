import { MAX_FRAME_BYTES } from '../../../crdt/sync/index.ts'

export const PROTOCOL_NAME = 'catalog-sync'
export const PROTOCOL_VERSION = '1.0.0'
export const CATALOG_SYNC_PROTOCOL = `/cloudless/${PROTOCOL_NAME}/${PROTOCOL_VERSION}`

/** Largest length-prefixed stream message we read: one encoded frame. */
export const MAX_STREAM_MESSAGE_BYTES = MAX_FRAME_BYTES

/**
 * Encoded frames queued for one peer before we give up on it (abort; the next stream re-syncs
 * from state vectors). Leaves room for a maximal 512 MiB state plus live updates.
 */
export const MAX_QUEUED_BYTES = 640 * 1024 * 1024

/** Send a keepalive frame when nothing was sent for this long; muxers close streams idle for 120 s. */
export const KEEPALIVE_INTERVAL_MS = 45_000

/** Reopening a lost stream backs off from 500 ms, doubling up to 60 s, until a sync succeeds. */
export const REOPEN_BASE_DELAY_MS = 500
export const REOPEN_MAX_DELAY_MS = 60_000

/** Protocol negotiation for a new stream must finish within this. */
export const OPEN_STREAM_TIMEOUT_MS = 10_000

/** stop() waits this long for each stream to close gracefully before aborting it. */
export const CLOSE_TIMEOUT_MS = 2_000

/**
 * Streams per connection. One is used; a second may overlap briefly when a stream is replaced
 * (the remote reopened before we saw the old one die).
 */
export const MAX_INBOUND_STREAMS = 4
export const MAX_OUTBOUND_STREAMS = 4
