import { TypedEventEmitter } from '@libp2p/interface'
import { CLOSED_INVITE_GRACE_MS, MAX_WRONG_PROOFS, RETAIN_CLOSED_INVITES_MS } from './constants.ts'

export type InviteState = 'open' | 'used' | 'expired' | 'burnt' | 'cancelled'

export interface InviteEntry {
  readonly id: string
  readonly secret: Uint8Array
  readonly expiresAt: number
  /** The peer id of the device that used it. */
  usedBy?: string
  wrongProofs: number
  /** Set when used, burnt or cancelled. */
  closedAt?: number
  closedAs?: Exclude<InviteState, 'open' | 'expired'>
}

export interface OpenInvite {
  id: string
  expiresAt: number
}

export interface InviteBookEvents {
  /** The number of open invites changed (one was added, used, burnt, cancelled or expired). */
  change: CustomEvent<{ open: number }>
}

export interface InviteBookInit {
  /** Current time in ms (tests). */
  now?: () => number
  maxWrongProofs?: number
  retainClosedMs?: number
  closedGraceMs?: number
}

/**
 * The invites this node has handed out, in memory: single use, expiring, burnt after too many
 * wrong proofs. Closed ones are remembered a while, so a late joiner learns why it is refused.
 * The connection gater asks `hasOpen()` on every handshake, so that is cheap and needs no timer;
 * a timer only announces expiries as 'change' events.
 */
export class InviteBook extends TypedEventEmitter<InviteBookEvents> {
  readonly #entries = new Map<string, InviteEntry>()
  readonly #now: () => number
  readonly #maxWrongProofs: number
  readonly #retainClosedMs: number
  readonly #closedGraceMs: number
  #expiryTimer: ReturnType<typeof setTimeout> | undefined
  #lastOpenCount = 0

  constructor(init: InviteBookInit = {}) {
    super()
    this.#now = init.now ?? Date.now
    this.#maxWrongProofs = init.maxWrongProofs ?? MAX_WRONG_PROOFS
    this.#retainClosedMs = init.retainClosedMs ?? RETAIN_CLOSED_INVITES_MS
    this.#closedGraceMs = init.closedGraceMs ?? CLOSED_INVITE_GRACE_MS
  }

  add(invite: { id: string; secret: Uint8Array; expiresAt: number }): void {
    if (this.#entries.has(invite.id)) throw new Error(`invite ${invite.id} exists already`)
    this.#prune()
    this.#entries.set(invite.id, {
      id: invite.id,
      secret: invite.secret.slice(),
      expiresAt: invite.expiresAt,
      wrongProofs: 0,
    })
    this.#changed()
  }

  get(id: string): InviteEntry | undefined {
    return this.#entries.get(id)
  }

  stateOf(entry: InviteEntry): InviteState {
    if (entry.closedAs !== undefined) return entry.closedAs
    return this.#now() >= entry.expiresAt ? 'expired' : 'open'
  }

  /** Whether any invite is open now. */
  hasOpen(): boolean {
    const now = this.#now()
    for (const entry of this.#entries.values()) {
      if (entry.closedAs === undefined && now < entry.expiresAt) return true
    }
    return false
  }

  /** Whether an invite closed (used, expired, burnt, cancelled) within the grace period (constants.ts). */
  recentlyClosed(): boolean {
    const now = this.#now()
    for (const entry of this.#entries.values()) {
      if (this.stateOf(entry) === 'open') continue
      if (now - (entry.closedAt ?? entry.expiresAt) < this.#closedGraceMs) return true
    }
    return false
  }

  get openCount(): number {
    return this.open().length
  }

  open(): OpenInvite[] {
    return [...this.#entries.values()]
      .filter((entry) => this.stateOf(entry) === 'open')
      .map((entry) => ({ id: entry.id, expiresAt: entry.expiresAt }))
  }

  markUsed(id: string, peerId: string): void {
    this.#close(id, 'used', peerId)
  }

  /** Counts a wrong proof against the invite; returns true when that burnt it. */
  recordWrongProof(id: string): boolean {
    const entry = this.#entries.get(id)
    if (entry === undefined || entry.closedAs !== undefined) return false
    entry.wrongProofs++
    if (entry.wrongProofs < this.#maxWrongProofs) return false
    this.#close(id, 'burnt')
    return true
  }

  /** Closes an open invite before it expires; returns whether there was one. */
  cancel(id: string): boolean {
    const entry = this.#entries.get(id)
    if (entry === undefined || this.stateOf(entry) !== 'open') return false
    this.#close(id, 'cancelled')
    return true
  }

  /** Stops the expiry timer and forgets every invite. */
  clear(): void {
    clearTimeout(this.#expiryTimer)
    this.#expiryTimer = undefined
    this.#entries.clear()
    this.#changed()
  }

  #close(id: string, as: NonNullable<InviteEntry['closedAs']>, usedBy?: string): void {
    const entry = this.#entries.get(id)
    if (entry === undefined) return
    entry.closedAs = as
    entry.closedAt = this.#now()
    if (usedBy !== undefined) entry.usedBy = usedBy
    this.#changed()
  }

  #prune(): void {
    const now = this.#now()
    for (const [id, entry] of this.#entries) {
      const closedSince = entry.closedAt ?? entry.expiresAt
      if (this.stateOf(entry) !== 'open' && now - closedSince > this.#retainClosedMs) this.#entries.delete(id)
    }
  }

  /** Announces a change of the open count, and arms the timer for the next expiry. */
  #changed(): void {
    clearTimeout(this.#expiryTimer)
    this.#expiryTimer = undefined
    const open = this.open()
    if (open.length !== this.#lastOpenCount) {
      this.#lastOpenCount = open.length
      this.safeDispatchEvent('change', { detail: { open: open.length } })
    }
    if (open.length === 0) return
    const next = Math.min(...open.map((invite) => invite.expiresAt))
    // setTimeout takes at most 2^31-1 ms; a longer wait just re-arms.
    const delay = Math.min(Math.max(next - this.#now(), 0) + 1, 2 ** 31 - 1)
    this.#expiryTimer = setTimeout(() => this.#changed(), delay)
    this.#expiryTimer.unref?.()
  }
}
