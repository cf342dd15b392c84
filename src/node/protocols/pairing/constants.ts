export const PROTOCOL_NAME = 'pair'
export const PROTOCOL_VERSION = '1.0.0'
export const PAIRING_PROTOCOL = `/cloudless/${PROTOCOL_NAME}/${PROTOCOL_VERSION}`

/** How long an invite stays open unless the caller says otherwise. */
export const DEFAULT_INVITE_TTL_MS = 15 * 60 * 1000

/** An invite that received this many wrong proofs is burnt: nobody can use it any more. */
export const MAX_WRONG_PROOFS = 10

/** Used, expired and burnt invites are remembered this long, so a late joiner hears why. */
export const RETAIN_CLOSED_INVITES_MS = 60 * 60 * 1000
/**
 * For this long after an invite closed, strangers may still connect, so that the pairing handler
 * can tell a late joiner that the invite expired or was used instead of the joiner seeing only a
 * refused connection. They reach nothing else (handlers check membership); revoked devices are
 * not admitted in this grace, only while an invite is actually open.
 */
export const CLOSED_INVITE_GRACE_MS = 2 * 60 * 1000

/** Each failed attempt delays its reply, from 0.5 s doubling up to 30 s (see rate-limit.ts). */
export const FAILURE_BASE_DELAY_MS = 500
export const FAILURE_MAX_DELAY_MS = 30_000
/** Failures older than this no longer count. */
export const FAILURE_MEMORY_MS = 15 * 60 * 1000
/** Attempts waiting for their turn beyond this are refused as busy at once. */
export const MAX_WAITING_ATTEMPTS = 8

/** A join (dial, request, catalog transfer) must finish within this unless the caller passes a signal. */
export const JOIN_TIMEOUT_MS = 120_000
/** The joiner must send its request this soon after opening the stream. */
export const REQUEST_TIMEOUT_MS = 10_000
/** The inviter gives a whole exchange this long, throttling delay and catalog transfer included. */
export const HANDLE_TIMEOUT_MS = 180_000
/** The joiner believes an invite expired only this long after its expiry, for clock skew. */
export const CLOCK_SKEW_ALLOWANCE_MS = 2 * 60 * 1000

/** A connection from a device that is not (yet) a member is closed after this, pairing or not. */
export const STRANGER_CONNECTION_TTL_MS = 4 * 60 * 1000
/** When the last invite closes, connections from non-members are closed after this grace. */
export const STRANGER_SWEEP_DELAY_MS = 2_000

/** Catalog state is sent in messages of this many bytes (far below the 4 MiB stream buffers). */
export const STATE_CHUNK_BYTES = 1024 * 1024
/** Largest catalog state a joiner accepts (a 100k-track catalog is ~30 MB). */
export const MAX_STATE_BYTES = 512 * 1024 * 1024
/** Largest request or reply header. */
export const MAX_HEADER_BYTES = 64 * 1024

/** Longest device name stored in the device list (UTF-16 units). */
export const MAX_DEVICE_NAME_LENGTH = 64
/** Most addresses an invite link carries. */
export const MAX_INVITE_ADDRESSES = 16

/** One pairing stream per connection and direction: a joiner has nothing to say twice at once. */
export const MAX_INBOUND_STREAMS = 1
export const MAX_OUTBOUND_STREAMS = 1

/** Transaction origin of the catalog state applied by a joiner. */
export const PAIRING_ORIGIN = 'cloudless:pairing'
