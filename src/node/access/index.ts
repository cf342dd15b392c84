/**
 * Access control by device list (ARCHITECTURE.md, decision 6): who is a member (Membership over
 * the catalog's `devices` map), a connection gater that admits members and, while an invite is
 * open, strangers, and helpers for handlers and revocation.
 */
export { cutOff, type EnforceRevocationsOptions, enforceRevocations, type HangUp } from './cut-off.ts'
export { CannotRevokeSelfError, NotAMemberError, UnknownDeviceError } from './errors.ts'
export { AccessGater, type AccessGaterInit, type ExpectedPeer } from './gater.ts'
export { membersOnly } from './members-only.ts'
export {
  type Member,
  Membership,
  type MembershipChange,
  type MembershipEvents,
  type MembershipInit,
  REVOCATIONS_MAP,
  type Revocation,
} from './membership.ts'
