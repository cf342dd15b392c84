/**
 * Pairing: a new device joins a library with an invite (ARCHITECTURE.md, decision 6), over
 * `/cloudless/pair/1.0.0`. A libp2p service: add it as
 * `services: { pairing: pairing({ catalog, membership, invites, gater, deviceName }) }`, with the
 * same InviteBook and AccessGater passed to the node's `connectionGater` option.
 */
import type {
  AbortOptions,
  ComponentLogger,
  Libp2pEvents,
  Logger,
  PeerId,
  TypedEventTarget,
} from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Catalog } from '../../../crdt/catalog.ts'
import type { AccessGater } from '../../access/gater.ts'
import type { Membership } from '../../access/membership.ts'
import type { Invite, ParsedInvite } from './invite.ts'
import type { InviteBook, OpenInvite } from './invite-book.ts'
import { PairingService } from './pairing.ts'
import type { FailureThrottleInit } from './rate-limit.ts'

export interface PairingInit {
  catalog: Catalog
  membership: Membership
  /** Open invites; the gater reads the same book. */
  invites: InviteBook
  /** Lets `join` reach an inviter that is not a member yet. */
  gater: Pick<AccessGater, 'expectOutbound'>
  /** This device's name, as told to the other side. */
  deviceName: string | (() => string)
  /**
   * The catalog as Yjs updates that together hold all of it, for a device that joins (default: the
   * document encoded anew). A node passes what its store holds: reading that is much cheaper than
   * encoding a big catalog.
   */
  catalogState?: (signal: AbortSignal) => Promise<Uint8Array[]>
  /**
   * Applies the catalog received when joining, in one transaction with the given origin (default:
   * applied to the document directly). A node passes its store's applyReceived, which stores the
   * received updates as they are instead of an update encoded anew.
   */
  applyCatalogState?: (parts: Uint8Array[], origin: string) => Promise<void>
  /** Addresses put into invites (default: the node's own addresses, from its address manager). */
  inviteAddresses?: () => string[]
  /** Delays after failed attempts (defaults: 0.5 s doubling to 30 s). */
  throttle?: FailureThrottleInit
  /** Default time limit for `join` (2 min). */
  joinTimeoutMs?: number
  /**
   * The library's relays: not members, yet not strangers either. Their connections are never
   * closed as strangers' are (devices away from home reach each other through them).
   */
  isRelay?: (peerId: string) => boolean
  /** Connections from non-members are closed after this (4 min). */
  strangerConnectionTtlMs?: number
  log?: Logger
}

export interface PairingComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface CreateInviteServiceOptions extends AbortOptions {
  /** Default 15 min. */
  ttlMs?: number
  /** Addresses to put into the invite instead of the default ones. */
  addresses?: string[]
}

export interface JoinOptions extends AbortOptions {
  /** Overrides the service's join timeout. PairingTimeoutError when it passes. */
  timeoutMs?: number
}

export interface JoinResult {
  libraryId: string
  inviterPeerId: string
  inviterName: string
}

export interface PairedDetail {
  /** The other device. */
  peerId: string
  name: string
  /** 'inviter': we admitted `peerId`; 'joiner': we joined `peerId`'s library. */
  role: 'inviter' | 'joiner'
  libraryId: string
}

export interface PairingEvents {
  /**
   * A pairing completed. The connection to the other device predates its place on the device
   * list, so catalog sync has not started on it: call `catalogSync.syncWith(peerId)`.
   */
  paired: CustomEvent<PairedDetail>
}

export interface Pairing extends TypedEventTarget<PairingEvents> {
  readonly protocol: string
  /** Opens a new invite (15 min unless told otherwise) and returns its link and code. */
  createInvite(options?: CreateInviteServiceOptions): Promise<Invite>
  /**
   * Joins the library of the device that made `invite` (a link, payload or code as text, or
   * parsed): proves the secret, checks the inviter's proof, takes over its catalog and library id.
   * Throws MalformedInviteError, WrongInviteError, InviteExpiredError, InviteUsedError,
   * InviteBurntError, PairingRefusedError, InviterNotAuthenticError, InviterUnreachableError,
   * AlreadyInLibraryError, PairingProtocolError, PairingTimeoutError, or the signal's reason.
   */
  join(invite: string | ParsedInvite, options?: JoinOptions): Promise<JoinResult>
  /** Invites that can still be used. */
  openInvites(): OpenInvite[]
  /** Closes an open invite early; returns whether there was one. */
  cancelInvite(id: string): boolean
}

export function pairing(init: PairingInit): (components: PairingComponents) => Pairing {
  return (components) => new PairingService(components, init)
}

export { PAIRING_PROTOCOL } from './constants.ts'
export {
  AlreadyInLibraryError,
  InviteBurntError,
  InviteExpiredError,
  InviterNotAuthenticError,
  InviterUnreachableError,
  InviteUsedError,
  MalformedInviteError,
  PairingProtocolError,
  PairingRefusedError,
  PairingStoppedError,
  PairingTimeoutError,
  WrongInviteError,
} from './errors.ts'
export {
  type CreateInviteOptions,
  createInvite,
  dialAddresses,
  type Invite,
  LINK_PREFIX,
  type ParsedCodeInvite,
  type ParsedInvite,
  type ParsedLinkInvite,
  parseInvite,
} from './invite.ts'
export { InviteBook, type InviteBookInit, type InviteState, type OpenInvite } from './invite-book.ts'
export { inviteIdOf } from './proofs.ts'
export type { FailureThrottleInit } from './rate-limit.ts'
