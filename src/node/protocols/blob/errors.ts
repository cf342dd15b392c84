import type { BlobErrorCode } from '../../../blobs/wire.ts'

/** The peer holds no blob with this content ID (error code `not-found`). */
export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError'
}

/**
 * The owner's file changed since it was hashed, so it no longer holds this content ID (error code
 * `changed`). A BlobProvider's `readBlock` throws an error with this name (this class will do) when
 * it notices; the server sends it on as `changed`.
 */
export class BlobChangedError extends Error {
  override name = 'BlobChangedError'
}

/** The peer serves too many transfers right now (error code `busy`): retry later or ask another device. */
export class PeerBusyError extends Error {
  override name = 'PeerBusyError'
}

/**
 * The peer broke the protocol (an unreadable, unexpected or out-of-order message), or answered
 * `bad-request` or `internal`; `code` then holds that error code.
 */
export class BlobProtocolError extends Error {
  override name = 'BlobProtocolError'
  /** The error code the peer sent, or undefined when we found the violation ourselves. */
  readonly code: BlobErrorCode | undefined

  constructor(message: string, options?: ErrorOptions & { code?: BlobErrorCode }) {
    super(message, options)
    this.code = options?.code
  }
}

/**
 * A manifest (genuine: it hashes to the content ID) is not what blocks were asked for on in the same
 * breath (BlobSession.manifestAndBlocks: the catalog gave another size). Ask again with the manifest.
 */
export class BlobExpectationError extends Error {
  override name = 'BlobExpectationError'
}

/** A block did not match its hash in the manifest: the peer is buggy or hostile. Nothing unverified was yielded. */
export class BlockVerificationError extends Error {
  override name = 'BlockVerificationError'
  /** The bad block (-1 when not known). */
  readonly index: number
  /** The blob it belongs to: a session ended by it fails other blobs' calls with the same error. */
  readonly contentId: string | undefined

  constructor(message: string, index: number, contentId?: string) {
    super(message)
    this.index = index
    this.contentId = contentId
  }
}

/** The manifest a peer sent does not hash to the content ID asked for, or is malformed. */
export class ManifestVerificationError extends Error {
  override name = 'ManifestVerificationError'
}

/** The peer sent nothing for too long while we waited for a response. */
export class BlobTimeoutError extends Error {
  override name = 'BlobTimeoutError'
}

/**
 * The transfer broke off for a reason outside the protocol: the peer could not be reached, does
 * not speak the protocol, refused the stream (a device outside the library is refused this way),
 * or the stream or connection was reset. `cause` holds the underlying error.
 */
export class BlobTransferError extends Error {
  override name = 'BlobTransferError'
}

/** The service stopped while the operation was pending, or is not running. */
export class BlobServiceStoppedError extends Error {
  override name = 'BlobServiceStoppedError'
}

/** Server side: the client opened a stream but sent no (further) request in time. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError'
}

/** Server side: the client accepted no bytes for too long; the stream is given up. */
export class ClientStalledError extends Error {
  override name = 'ClientStalledError'
}

/** A call on a session that was closed: it took no more requests. */
export class BlobSessionClosedError extends Error {
  override name = 'BlobSessionClosedError'
}

/**
 * The server ended a session with an error message about another call (the protocol ends the
 * exchange there): this call was not answered; ask again, on a new session.
 */
export class BlobSessionEndedError extends Error {
  override name = 'BlobSessionEndedError'
}
