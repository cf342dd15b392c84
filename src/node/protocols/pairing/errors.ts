/** The text is not an invite link, payload or code; the message says what is wrong with it. */
export class MalformedInviteError extends Error {
  override name = 'MalformedInviteError'
}

/** The inviter knows no open invite with this secret (a typo, another device's invite, or a wrong proof). */
export class WrongInviteError extends Error {
  override name = 'WrongInviteError'
}

export class InviteExpiredError extends Error {
  override name = 'InviteExpiredError'
}

/** The invite was already used by another device. Each invite admits one device. */
export class InviteUsedError extends Error {
  override name = 'InviteUsedError'
}

/** The invite received too many wrong proofs and was cancelled; ask for a new one. */
export class InviteBurntError extends Error {
  override name = 'InviteBurntError'
}

/** The inviter refused for another reason (busy, malformed request, no longer in the library). */
export class PairingRefusedError extends Error {
  override name = 'PairingRefusedError'
  /** The reason code the inviter sent. */
  readonly reason: string

  constructor(reason: string, message: string) {
    super(message)
    this.reason = reason
  }
}

/** The remote device could not prove that it holds the invite's secret: it is not the inviter. */
export class InviterNotAuthenticError extends Error {
  override name = 'InviterNotAuthenticError'
}

/** The exchange broke off or the other side broke the protocol. */
export class PairingProtocolError extends Error {
  override name = 'PairingProtocolError'
}

/** Joining took longer than allowed. */
export class PairingTimeoutError extends Error {
  override name = 'PairingTimeoutError'
}

/** This device already shares a library with other devices; joining would merge them into another one. */
export class AlreadyInLibraryError extends Error {
  override name = 'AlreadyInLibraryError'
}

/** The service is not running. */
export class PairingStoppedError extends Error {
  override name = 'PairingStoppedError'
}

/** No connection to the inviting device could be made. */
export class InviterUnreachableError extends Error {
  override name = 'InviterUnreachableError'
}
