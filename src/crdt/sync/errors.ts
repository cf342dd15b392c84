/** The bytes are not a well-formed sync frame (or a well-formed y-protocols message inside one). */
export class MalformedFrameError extends Error {
  override name = 'MalformedFrameError'
}

/** A frame belongs to another library than the one this session syncs. */
export class LibraryMismatchError extends Error {
  override name = 'LibraryMismatchError'
  readonly expected: string
  readonly received: string

  constructor(expected: string, received: string) {
    super(`frame is for library "${received}", this session syncs "${expected}"`)
    this.expected = expected
    this.received = received
  }
}

/** A (reassembled) message would exceed the configured size bound. */
export class MessageTooLargeError extends Error {
  override name = 'MessageTooLargeError'
}

/** The peer sent a well-framed Yjs update that the document could not apply. */
export class UpdateRejectedError extends Error {
  override name = 'UpdateRejectedError'
}
