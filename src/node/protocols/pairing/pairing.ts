import type { AbortOptions, Connection, Logger, Startable, Stream } from '@libp2p/interface'
import { TypedEventEmitter } from '@libp2p/interface'
import * as Y from 'yjs'
import type { Catalog } from '../../../crdt/catalog.ts'
import { readMessages, writeMessage } from '../stream-io.ts'
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  HANDLE_TIMEOUT_MS,
  JOIN_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_STATE_BYTES,
  PAIRING_ORIGIN,
  PAIRING_PROTOCOL,
  REQUEST_TIMEOUT_MS,
  STATE_CHUNK_BYTES,
  STRANGER_CONNECTION_TTL_MS,
  STRANGER_SWEEP_DELAY_MS,
} from './constants.ts'
import {
  AlreadyInLibraryError,
  InviteBurntError,
  InviteExpiredError,
  InviterNotAuthenticError,
  InviterUnreachableError,
  InviteUsedError,
  PairingProtocolError,
  PairingRefusedError,
  PairingStoppedError,
  PairingTimeoutError,
  WrongInviteError,
} from './errors.ts'
import type {
  CreateInviteServiceOptions,
  JoinOptions,
  JoinResult,
  Pairing,
  PairingComponents,
  PairingEvents,
  PairingInit,
} from './index.ts'
import { createInvite, dialAddresses, type Invite, type ParsedInvite, parseInvite } from './invite.ts'
import type { OpenInvite } from './invite-book.ts'
import {
  cleanDeviceName,
  decodeJoinRequest,
  decodeReply,
  encodeAccept,
  encodeJoinRequest,
  encodeRefuse,
  type JoinRequest,
  MalformedMessageError,
  MessageKind,
  RefusalReason,
} from './messages.ts'
import { acceptProof, fromHex, inviteIdOf, joinProof, timingSafeEqual, toHex } from './proofs.ts'
import { FailureThrottle, ThrottleBusyError } from './rate-limit.ts'

const UNNAMED_DEVICE = 'unnamed device'

type Verdict =
  | { ok: true; secret: Uint8Array; libraryId: string; name: string }
  | { ok: false; reason: RefusalReason; message: string }

/**
 * The pairing protocol. The inviter serves `/cloudless/pair/1.0.0` to anyone the gater let in;
 * the joiner opens one stream, proves it holds the invite's secret, and receives the catalog.
 *
 * It also keeps strangers from lingering: a connection from a non-member is closed after a while
 * (strangerConnectionTtlMs), and all of them shortly after the last open invite closes.
 */
export class PairingService extends TypedEventEmitter<PairingEvents> implements Pairing, Startable {
  readonly protocol = PAIRING_PROTOCOL
  readonly #components: PairingComponents
  readonly #init: PairingInit
  readonly #log: Logger
  readonly #selfId: string
  readonly #throttle: FailureThrottle
  readonly #strangerTimers = new Map<string, ReturnType<typeof setTimeout>>()
  /** Inviters we are joining right now: the stranger sweep leaves their connections alone. */
  readonly #joining = new Set<string>()
  #sweepTimer: ReturnType<typeof setTimeout> | undefined
  #lifetime = new AbortController()
  #started = false

  constructor(components: PairingComponents, init: PairingInit) {
    super()
    this.#components = components
    this.#init = init
    this.#log = init.log ?? components.logger.forComponent('cloudless:pairing')
    this.#selfId = components.peerId.toString()
    this.#throttle = new FailureThrottle(init.throttle)
  }

  readonly [Symbol.toStringTag] = '@cloudless/pairing'

  isStarted(): boolean {
    return this.#started
  }

  async start(options?: AbortOptions): Promise<void> {
    if (this.#started) return
    this.#lifetime = new AbortController()
    this.#started = true
    this.#components.events.addEventListener('connection:open', this.#onConnectionOpen)
    this.#components.events.addEventListener('connection:close', this.#onConnectionClose)
    this.#init.invites.addEventListener('change', this.#onInvitesChange)
    await this.#components.registrar.handle(this.protocol, this.#onStream, {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      // Devices away from home meet through our relay, which lifts the 2 min / 128 KiB limits.
      runOnLimitedConnection: true,
      ...options,
    })
  }

  async stop(options?: AbortOptions): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#lifetime.abort(new PairingStoppedError('pairing stopped'))
    this.#components.events.removeEventListener('connection:open', this.#onConnectionOpen)
    this.#components.events.removeEventListener('connection:close', this.#onConnectionClose)
    this.#init.invites.removeEventListener('change', this.#onInvitesChange)
    for (const timer of this.#strangerTimers.values()) clearTimeout(timer)
    this.#strangerTimers.clear()
    clearTimeout(this.#sweepTimer)
    this.#sweepTimer = undefined
    await this.#components.registrar.unhandle(this.protocol, options)
  }

  async createInvite(options: CreateInviteServiceOptions = {}): Promise<Invite> {
    options.signal?.throwIfAborted()
    if (!this.#started) throw new PairingStoppedError('pairing is not running')
    if (this.#init.membership.selfRevoked) {
      throw new PairingRefusedError('revoked', 'this device was removed from its library and cannot invite')
    }
    const addresses =
      options.addresses ??
      this.#init.inviteAddresses?.() ??
      this.#components.addressManager.getAddresses().map((address) => address.toString())
    const invite = await createInvite({
      peerId: this.#selfId,
      addresses,
      ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    })
    options.signal?.throwIfAborted()
    this.#init.invites.add(invite)
    this.#log('opened invite %s until %s', invite.id, new Date(invite.expiresAt).toISOString())
    return invite
  }

  openInvites(): OpenInvite[] {
    return this.#init.invites.open()
  }

  cancelInvite(id: string): boolean {
    return this.#init.invites.cancel(id)
  }

  // ---- joiner ----

  async join(invite: string | ParsedInvite, options: JoinOptions = {}): Promise<JoinResult> {
    options.signal?.throwIfAborted()
    if (!this.#started) throw new PairingStoppedError('pairing is not running')
    const parsed = typeof invite === 'string' ? parseInvite(invite) : invite
    this.#checkCanJoin(parsed)

    const timeoutMs = options.timeoutMs ?? this.#init.joinTimeoutMs ?? JOIN_TIMEOUT_MS
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = AbortSignal.any([
      timeout,
      this.#lifetime.signal,
      ...(options.signal === undefined ? [] : [options.signal]),
    ])
    const release = this.#init.gater.expectOutbound({
      ...(parsed.peerId === undefined ? {} : { peerId: parsed.peerId }),
      addresses: parsed.addresses,
    })
    let connection: Connection | undefined
    let succeeded = false
    try {
      connection = await this.#dialInviter(parsed, signal)
      const inviter = connection.remotePeer.toString()
      this.#joining.add(inviter)
      const result = await this.#exchange(connection, parsed, signal)
      succeeded = true
      return result
    } catch (err) {
      if (options.signal?.aborted === true) throw options.signal.reason
      if (this.#lifetime.signal.aborted) throw new PairingStoppedError('pairing stopped', { cause: err })
      if (timeout.aborted) {
        throw new PairingTimeoutError(`joining took longer than ${timeoutMs} ms`, { cause: err })
      }
      throw toError(err)
    } finally {
      release()
      if (connection !== undefined) {
        const inviter = connection.remotePeer.toString()
        this.#joining.delete(inviter)
        // A stranger after all: do not keep a connection the gater would not have let in.
        if (!succeeded && !this.#init.membership.isMember(inviter)) void closeConnection(connection)
      }
    }
  }

  #checkCanJoin(parsed: ParsedInvite): void {
    const { membership } = this.#init
    if (parsed.peerId === this.#selfId) {
      throw new PairingRefusedError('self', 'this invite was made by this device; use it on another one')
    }
    if (parsed.expiresAt !== undefined && Date.now() > parsed.expiresAt + CLOCK_SKEW_ALLOWANCE_MS) {
      throw new InviteExpiredError(`the invite expired at ${new Date(parsed.expiresAt).toISOString()}`)
    }
    // Joining merges this device's catalog, device list included, into the other library: its
    // current companions would become members there too.
    const inviterIsMember = parsed.peerId !== undefined && membership.isMember(parsed.peerId)
    if (!membership.selfRevoked && !inviterIsMember && membership.others().length > 0) {
      throw new AlreadyInLibraryError(
        `this device already shares a library with ${membership.others().length} other device(s); it cannot join another one`,
      )
    }
  }

  async #dialInviter(parsed: ParsedInvite, signal: AbortSignal): Promise<Connection> {
    try {
      return await this.#components.connectionManager.openConnection(dialAddresses(parsed), { signal })
    } catch (err) {
      if (signal.aborted) throw err
      throw new InviterUnreachableError(
        `could not reach the inviting device at ${parsed.addresses.join(', ')}: is it running, on this network? (${(err as Error).message})`,
        { cause: err },
      )
    }
  }

  async #exchange(connection: Connection, parsed: ParsedInvite, signal: AbortSignal): Promise<JoinResult> {
    const inviter = connection.remotePeer.toString()
    if (parsed.peerId !== undefined && inviter !== parsed.peerId) {
      throw new InviterNotAuthenticError(
        `expected ${parsed.peerId} at the invite's address, found ${inviter}`,
      )
    }
    if (inviter === this.#selfId) {
      throw new PairingRefusedError('self', 'this invite was made by this device; use it on another one')
    }
    const name = this.#deviceName()
    const stream = await connection.newStream(this.protocol, { signal, runOnLimitedConnection: true })
    try {
      const [inviteId, proof] = await Promise.all([
        inviteIdOf(parsed.secret),
        joinProof(parsed.secret, this.#selfId, inviter),
      ])
      await writeMessage(
        stream,
        encodeJoinRequest({ inviteId: fromHex(inviteId)!, deviceName: name, proof }),
        {
          signal,
        },
      )
      await stream.close({ signal })
      const result = await this.#receive(stream, parsed.secret, inviter, signal)
      this.#log('joined library %s of %s', result.libraryId, inviter)
      this.safeDispatchEvent('paired', {
        detail: { peerId: inviter, name: result.inviterName, role: 'joiner', libraryId: result.libraryId },
      })
      return result
    } catch (err) {
      stream.abort(toError(err))
      throw err
    }
  }

  async #receive(
    stream: Stream,
    secret: Uint8Array,
    inviter: string,
    signal: AbortSignal,
  ): Promise<JoinResult> {
    const messages = readMessages(stream, { maxMessageLength: STATE_CHUNK_BYTES, signal })
    const first = await messages.next()
    if (first.done === true)
      throw new PairingProtocolError('the inviting device closed the stream without a reply')
    let reply: ReturnType<typeof decodeReply>
    try {
      reply = decodeReply(first.value)
    } catch (err) {
      throw new PairingProtocolError(`unreadable reply: ${(err as Error).message}`, { cause: err })
    }
    if (reply.kind === MessageKind.Refuse) throw refusalError(reply.reason, reply.message)

    // Nothing the inviter says counts until it has shown that it holds the secret too.
    const expected = await acceptProof(secret, this.#selfId, inviter, reply.libraryId)
    if (!timingSafeEqual(expected, reply.proof)) {
      throw new InviterNotAuthenticError(
        `the device ${inviter} could not prove that it made this invite; not joining its library`,
      )
    }
    if (reply.stateBytes > MAX_STATE_BYTES) {
      throw new PairingProtocolError(`catalog of ${reply.stateBytes} bytes exceeds ${MAX_STATE_BYTES}`)
    }
    const state = new Uint8Array(reply.stateBytes)
    let received = 0
    while (received < state.length) {
      const next = await messages.next()
      if (next.done === true) {
        throw new PairingProtocolError(`the catalog broke off after ${received} of ${state.length} bytes`)
      }
      if (next.value.length > state.length - received) {
        throw new PairingProtocolError('the inviting device sent more catalog bytes than announced')
      }
      state.set(next.value, received)
      received += next.value.length
    }
    await messages.return(undefined)

    const { catalog, applyCatalogState = applyToDocument(catalog) } = this.#init
    const parts: Uint8Array[] = []
    let offset = 0
    for (const length of reply.stateParts) {
      parts.push(state.subarray(offset, offset + length))
      offset += length
    }
    try {
      await applyCatalogState(parts, PAIRING_ORIGIN)
    } catch (err) {
      throw new PairingProtocolError(`the catalog from ${inviter} cannot be applied`, { cause: err })
    }
    catalog.transact(() => {
      // Set after applying the inviter's state, so this write is causally later and wins everywhere.
      catalog.meta.set('libraryId', reply.libraryId)
      const self = catalog.devices.get(this.#selfId)
      catalog.putDevice(this.#selfId, {
        ...(self?.addresses === undefined ? {} : { addresses: self.addresses }),
        ...(self?.lastSeen === undefined ? {} : { lastSeen: self.lastSeen }),
        name: this.#deviceName(),
        addedAt: self?.addedAt ?? Date.now(),
      })
      if (!catalog.devices.has(inviter)) {
        catalog.putDevice(inviter, {
          name: cleanDeviceName(reply.inviterName, UNNAMED_DEVICE),
          addedAt: Date.now(),
        })
      }
    }, PAIRING_ORIGIN)
    return { libraryId: reply.libraryId, inviterPeerId: inviter, inviterName: reply.inviterName }
  }

  // ---- inviter ----

  readonly #onStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    if (!this.#started) {
      stream.abort(new PairingStoppedError('pairing stopped'))
      return
    }
    const signal = AbortSignal.any([this.#lifetime.signal, AbortSignal.timeout(HANDLE_TIMEOUT_MS)])
    try {
      await this.#serve(stream, peer, signal)
    } catch (err) {
      const error = toError(err)
      this.#log('pairing with %s failed: %s', peer, error.message)
      stream.abort(error)
    }
  }

  async #serve(stream: Stream, peer: string, signal: AbortSignal): Promise<void> {
    const request = await this.#readRequest(stream, signal)
    let verdict: Verdict
    try {
      verdict = await this.#throttle.run(
        peer,
        async () => {
          const result = request === undefined ? malformed() : await this.#judge(request, peer)
          // Only guesses count as failures: whoever holds the secret of an expired or used invite is no attacker.
          const failed = !result.ok && (result.reason === 'wrong-invite' || result.reason === 'malformed')
          return { result, failed }
        },
        { signal },
      )
    } catch (err) {
      if (!(err instanceof ThrottleBusyError)) throw err
      verdict = {
        ok: false,
        reason: RefusalReason.Busy,
        message: 'the inviting device is busy with other pairing attempts; try again in a minute',
      }
    }
    if (!verdict.ok) {
      this.#log('refused pairing with %s: %s', peer, verdict.reason)
      await writeMessage(stream, encodeRefuse({ reason: verdict.reason, message: verdict.message }), {
        signal,
      })
      await stream.close({ signal })
      return
    }
    const parts =
      this.#init.catalogState === undefined
        ? [Y.encodeStateAsUpdate(this.#init.catalog.doc)]
        : await this.#init.catalogState(signal)
    const proof = await acceptProof(verdict.secret, peer, this.#selfId, verdict.libraryId)
    await writeMessage(
      stream,
      encodeAccept({
        libraryId: verdict.libraryId,
        inviterName: this.#deviceName(),
        proof,
        stateBytes: parts.reduce((sum, part) => sum + part.length, 0),
        stateParts: parts.map((part) => part.length),
      }),
      { signal },
    )
    for (const part of parts) {
      for (let offset = 0; offset < part.length; offset += STATE_CHUNK_BYTES) {
        await writeMessage(stream, part.subarray(offset, offset + STATE_CHUNK_BYTES), { signal })
      }
    }
    await stream.close({ signal })
    this.#log('paired with %s (%s)', peer, verdict.name)
    this.safeDispatchEvent('paired', {
      detail: { peerId: peer, name: verdict.name, role: 'inviter', libraryId: verdict.libraryId },
    })
  }

  /** The joiner's request, or undefined when it is malformed. */
  async #readRequest(stream: Stream, signal: AbortSignal): Promise<JoinRequest | undefined> {
    const messages = readMessages(stream, {
      maxMessageLength: MAX_HEADER_BYTES,
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    })
    try {
      const first = await messages.next()
      if (first.done === true) return undefined
      return decodeJoinRequest(first.value)
    } catch (err) {
      if (err instanceof MalformedMessageError) return undefined
      throw err
    } finally {
      await messages.return(undefined)
    }
  }

  /** Checks a request against the invite book; on success marks the invite used and adds the joiner. */
  async #judge(request: JoinRequest, peer: string): Promise<Verdict> {
    const { invites, catalog, membership } = this.#init
    const id = toHex(request.inviteId)
    const entry = invites.get(id)
    const wrong: Verdict = {
      ok: false,
      reason: RefusalReason.WrongInvite,
      message: 'this device has no open invite with that secret (a typo, or an invite from another device?)',
    }
    if (entry === undefined) return wrong
    // The proof is checked first, so only a holder of the secret learns what became of the invite.
    const expected = await joinProof(entry.secret, peer, this.#selfId)
    if (!timingSafeEqual(expected, request.proof)) {
      if (invites.recordWrongProof(id)) this.#log('invite %s burnt after too many wrong proofs', id)
      return wrong
    }
    const state = invites.stateOf(entry)
    // The same device asking again (its first reply got lost) gets the catalog again.
    const retry = state === 'used' && entry.usedBy === peer
    if (state === 'used' && !retry) {
      return {
        ok: false,
        reason: RefusalReason.Used,
        message: 'this invite was already used by another device',
      }
    }
    if (state === 'burnt') {
      return {
        ok: false,
        reason: RefusalReason.Burnt,
        message: 'this invite was cancelled after too many wrong attempts; ask for a new one',
      }
    }
    if (state === 'cancelled') {
      return {
        ok: false,
        reason: RefusalReason.Refused,
        message: 'this invite was cancelled; ask for a new one',
      }
    }
    if (state === 'expired') {
      return {
        ok: false,
        reason: RefusalReason.Expired,
        message: `this invite expired at ${new Date(entry.expiresAt).toISOString()}; ask for a new one`,
      }
    }
    const libraryId = catalog.libraryId
    if (libraryId === undefined || membership.selfRevoked) {
      return { ok: false, reason: RefusalReason.Refused, message: 'the inviting device is not in a library' }
    }
    const name = cleanDeviceName(request.deviceName, UNNAMED_DEVICE)
    if (!retry) {
      invites.markUsed(id, peer)
      // Re-admitting a revoked device counts as a new addition.
      const existing = membership.isMember(peer) ? catalog.devices.get(peer) : undefined
      membership.admit(peer, { name, addedAt: existing?.addedAt ?? Date.now() })
    }
    return { ok: true, secret: entry.secret, libraryId, name }
  }

  // ---- strangers ----

  readonly #onConnectionOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    if (!this.#isStranger(connection.remotePeer.toString())) return
    const ttl = this.#init.strangerConnectionTtlMs ?? STRANGER_CONNECTION_TTL_MS
    const timer = setTimeout(() => {
      this.#strangerTimers.delete(connection.id)
      this.#closeIfStranger(connection)
    }, ttl)
    timer.unref?.()
    this.#strangerTimers.set(connection.id, timer)
  }

  readonly #onConnectionClose = (event: CustomEvent<Connection>): void => {
    const timer = this.#strangerTimers.get(event.detail.id)
    if (timer === undefined) return
    clearTimeout(timer)
    this.#strangerTimers.delete(event.detail.id)
  }

  readonly #onInvitesChange = (event: CustomEvent<{ open: number }>): void => {
    if (event.detail.open > 0 || this.#sweepTimer !== undefined) return
    // A short grace, so that a reply being sent right now (a refusal, say) still arrives.
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined
      if (this.#init.invites.hasOpen()) return
      for (const connection of this.#components.connectionManager.getConnections()) {
        this.#closeIfStranger(connection)
      }
    }, STRANGER_SWEEP_DELAY_MS)
    this.#sweepTimer.unref?.()
  }

  #closeIfStranger(connection: Connection): void {
    const peer = connection.remotePeer.toString()
    if (!this.#started || !this.#isStranger(peer) || this.#joining.has(peer)) return
    if (connection.status !== 'open') return
    this.#log('closing the connection to %s: not a device of this library', peer)
    void closeConnection(connection)
  }

  #isStranger(peer: string): boolean {
    return !this.#init.membership.isMember(peer) && this.#init.isRelay?.(peer) !== true
  }

  #deviceName(): string {
    const { deviceName } = this.#init
    return cleanDeviceName(typeof deviceName === 'string' ? deviceName : deviceName(), UNNAMED_DEVICE)
  }
}

function malformed(): Verdict {
  return { ok: false, reason: RefusalReason.Malformed, message: 'the pairing request was malformed' }
}

function refusalError(reason: string, message: string): Error {
  switch (reason) {
    case RefusalReason.WrongInvite:
      return new WrongInviteError(message)
    case RefusalReason.Expired:
      return new InviteExpiredError(message)
    case RefusalReason.Used:
      return new InviteUsedError(message)
    case RefusalReason.Burnt:
      return new InviteBurntError(message)
    default:
      return new PairingRefusedError(reason, message)
  }
}

/**
 * libp2p's stream close() rejects with the stream's 'close' Event, not an Error, when the stream
 * closes while it waits to flush; callers of join should always get an Error.
 */
function toError(err: unknown): Error {
  if (err instanceof Error) return err
  return new PairingProtocolError('the connection to the other device closed during pairing', { cause: err })
}

async function closeConnection(connection: Connection): Promise<void> {
  try {
    await connection.close({ signal: AbortSignal.timeout(5_000) })
  } catch (err) {
    connection.abort(err as Error)
  }
}

function applyToDocument(catalog: Catalog): (parts: Uint8Array[], origin: string) => Promise<void> {
  return async (parts, origin) => {
    catalog.transact(() => {
      for (const part of parts) Y.applyUpdate(catalog.doc, part, origin)
    }, origin)
  }
}
