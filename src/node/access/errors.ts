/** The peer is not on the library's device list, or was revoked. */
export class NotAMemberError extends Error {
  override name = 'NotAMemberError'
}

/** No device with this id is on the device list. */
export class UnknownDeviceError extends Error {
  override name = 'UnknownDeviceError'
}

/** A device cannot revoke itself; another device of the library must. */
export class CannotRevokeSelfError extends Error {
  override name = 'CannotRevokeSelfError'
}
