/** The remote peer is not on this library's device list. */
export class PeerNotAllowedError extends Error {
  override name = 'PeerNotAllowedError'
}

/** The service stopped while the operation was pending. */
export class ServiceStoppedError extends Error {
  override name = 'ServiceStoppedError'
}

/** A newer stream with the same peer took this one's place. */
export class StreamReplacedError extends Error {
  override name = 'StreamReplacedError'
}

/** The peer read our frames too slowly: more than the allowed bytes were waiting to be sent. */
export class SendQueueOverflowError extends Error {
  override name = 'SendQueueOverflowError'
}

/** The sync stream with a peer ended before the initial exchange completed. */
export class SyncLostError extends Error {
  override name = 'SyncLostError'
}
