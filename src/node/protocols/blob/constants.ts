export const PROTOCOL_NAME = 'blob'
export const PROTOCOL_VERSION = '1.0.0'
export const BLOB_PROTOCOL = `/cloudless/${PROTOCOL_NAME}/${PROTOCOL_VERSION}`

/**
 * Streams served at once for one peer; more are answered `busy`. Room for a mirror's 4 sessions
 * (each answers in order, so small files go faster on more of them: a 10k-track mirror took 17.5 s
 * on 2 sessions, 15.1-15.6 s on 4) and a player's streams beside them.
 */
export const DEFAULT_MAX_CONCURRENT_PER_PEER = 8
/** Streams served at once for all peers together; more are answered `busy`. */
export const DEFAULT_MAX_CONCURRENT_TOTAL = 16

/**
 * Streams libp2p lets in per connection, beyond our own limits: a stream over our limit hears
 * `busy`, while one over libp2p's limit is only reset. Raised to the per-peer limit plus this.
 */
export const MAX_INBOUND_STREAMS = 32
export const MAX_OUTBOUND_STREAMS = 64

/**
 * Bytes a client asks for in one blocks request (64 blocks of 256 KiB). With two requests in
 * flight the server always has the next one queued, so a long download never waits a round trip.
 */
export const REQUEST_BYTES = 16 * 1024 * 1024
/**
 * The server gathers messages up to this many bytes into one send(): every send becomes muxer
 * frames that each cost a window update from the client and system calls on both sides, which
 * made 256 KiB messages sent one by one CPU-bound on loopback.
 */
export const FLUSH_BYTES = 1024 * 1024
/**
 * Bytes a session asks for before their answers have arrived (blocks counted at full size): enough
 * for the server never to wait for the next request, and a bound on what can pile up on the client.
 */
export const SESSION_IN_FLIGHT_BYTES = 16 * 1024 * 1024
/**
 * Bytes of blocks the server reads ahead of the one it sends, of the answer being sent and then of
 * the requests received after it (bounded memory: this much, plus one block, per stream).
 */
export const READ_AHEAD_BYTES = 1024 * 1024
/** Blocks requests a client keeps outstanding on one stream. */
export const PIPELINE_DEPTH = 2

/**
 * A client pauses its stream when this many received bytes wait for the consumer (then yamux stops
 * granting window, and the server waits for drain instead of reading further blocks).
 */
export const CLIENT_HIGH_WATER_MARK = 2 * 1024 * 1024
/** A client's stream is reset when more than this waits in its read buffer (see ResponseReader). */
export const CLIENT_READ_BUFFER_LIMIT = CLIENT_HIGH_WATER_MARK + 2 * 16 * 1024 * 1024 + 2 * 1024 * 1024
/** Requests are tiny: the server pauses a stream that queues more than this many request bytes. */
export const SERVER_HIGH_WATER_MARK = 4 * 1024

/** Dialling and protocol negotiation for a new stream must finish within this. */
export const OPEN_STREAM_TIMEOUT_MS = 10_000
/** A client gives up when the server sends nothing for this long while it waits (a disk spinning up takes seconds). */
export const RESPONSE_TIMEOUT_MS = 30_000
/** The server closes a stream when no (further) request arrives within this. */
export const REQUEST_TIMEOUT_MS = 10_000
/**
 * The server gives up on a client that accepts no bytes for this long (it frees the slot). A
 * consumer that stops reading for longer loses the stream and fetches the rest anew; yamux would
 * end an idle stream after 120 s anyway (ARCHITECTURE.md).
 */
export const STALL_TIMEOUT_MS = 60_000
/** A `busy` answer waits this long to leave before the stream is aborted. */
export const CLOSE_TIMEOUT_MS = 5_000
