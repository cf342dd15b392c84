import type { PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from '@libp2p/interface'
import type * as Y from 'yjs'
import type { Catalog } from '../../crdt/catalog.ts'
import type { DeviceRecord } from '../../crdt/schema.ts'
import { CannotRevokeSelfError, NotAMemberError, UnknownDeviceError } from './errors.ts'

/**
 * Name of the catalog map that records revocations: deviceId -> Revocation.
 *
 * Why not only `revoked: true` in the DeviceRecord: a device writes its own record (name,
 * addresses, lastSeen), and Yjs settles concurrent writes to one map key by client id, so a
 * revoked device that updated its record before hearing of the revocation would undo it about
 * half the time. Only revoking (and re-admitting) devices write this map, so that cannot happen;
 * a revocation also wins over a concurrent re-admission (a concurrent set survives a delete).
 */
export const REVOCATIONS_MAP = 'revocations'

export interface Revocation {
  /** ms since epoch */
  at: number
  /** The device that revoked it. */
  by: string
}

export interface Member extends DeviceRecord {
  deviceId: string
  /** Whether this is the local device. */
  self: boolean
}

export interface MembershipChange {
  /** Devices that became members (added, or re-admitted after a revocation). */
  joined: string[]
  /** Devices that stopped being members (revoked, or removed from the list). */
  left: string[]
}

export interface MembershipEvents {
  /** The set of members changed, by a local write or one that arrived from another device. */
  change: CustomEvent<MembershipChange>
  /** Another device revoked this one. It no longer belongs to the library; the others refuse it. */
  'self-revoked': CustomEvent<void>
}

export interface MembershipInit {
  catalog: Catalog
  /** This device's id (its libp2p peer id string). */
  selfId: string
}

/**
 * Who belongs to the library: the devices in the catalog's `devices` map that are not revoked.
 * Both maps replicate like the rest of the catalog, so a revocation made on one device reaches all.
 *
 * A limit worth knowing: Yjs changes are not signed. A revoked device that still reaches a member
 * which has not yet learnt of the revocation could write itself back; members cut it off as soon
 * as they learn (gater, handler checks, enforceRevocations), which narrows that window.
 */
export class Membership extends TypedEventEmitter<MembershipEvents> {
  readonly selfId: string
  readonly #catalog: Catalog
  readonly #devices: Y.Map<DeviceRecord>
  readonly #revocations: Y.Map<Revocation>
  #active: Set<string>
  #selfRevoked: boolean
  #observing = true

  constructor(init: MembershipInit) {
    super()
    this.#catalog = init.catalog
    this.#devices = init.catalog.devices
    this.#revocations = init.catalog.doc.getMap(REVOCATIONS_MAP)
    this.selfId = init.selfId
    this.#active = this.#activeSet()
    this.#selfRevoked = this.isRevoked(this.selfId)
    this.#catalog.doc.on('afterTransaction', this.#afterTransaction)
  }

  isMember(peerId: PeerId | string): boolean {
    const id = peerId.toString()
    return isRecord(this.#devices.get(id)) && !this.isRevoked(id)
  }

  /** Whether `peerId` was revoked (and not re-admitted since). */
  isRevoked(peerId: PeerId | string): boolean {
    const id = peerId.toString()
    return this.#revocations.has(id) || this.#devices.get(id)?.revoked === true
  }

  /** Throws NotAMemberError unless `peerId` is a member. For protocol handlers. */
  assertMember(peerId: PeerId | string): void {
    if (!this.isMember(peerId)) {
      throw new NotAMemberError(`${peerId.toString()} is not a device of this library`)
    }
  }

  /** Whether another device revoked this one. */
  get selfRevoked(): boolean {
    return this.isRevoked(this.selfId)
  }

  /** Current members, this device included (unless revoked), oldest first. */
  members(): Member[] {
    return this.devices().filter((device) => device.revoked !== true)
  }

  /** Every device on the list, revoked ones included (with `revoked: true`), oldest first. */
  devices(): Member[] {
    const out: Member[] = []
    for (const [deviceId, record] of this.#devices) {
      if (!isRecord(record)) continue
      const revoked = this.isRevoked(deviceId)
      const { revoked: _, ...rest } = record
      out.push({ ...rest, ...(revoked ? { revoked } : {}), deviceId, self: deviceId === this.selfId })
    }
    return out.sort((a, b) => a.addedAt - b.addedAt || a.deviceId.localeCompare(b.deviceId))
  }

  /** Members other than this device. */
  others(): Member[] {
    return this.members().filter((member) => !member.self)
  }

  /**
   * Marks a device revoked (in REVOCATIONS_MAP and, for display, `revoked: true` in its record).
   * The change replicates to every device, whose gaters then refuse it. Open connections stay open
   * until someone closes them: see enforceRevocations / cutOff.
   * Throws UnknownDeviceError, or CannotRevokeSelfError for this device's own id.
   */
  revoke(peerId: PeerId | string): void {
    const deviceId = peerId.toString()
    if (deviceId === this.selfId) {
      throw new CannotRevokeSelfError('a device cannot revoke itself; remove it from another device')
    }
    const record = this.#devices.get(deviceId)
    if (!isRecord(record)) throw new UnknownDeviceError(`no device ${deviceId} in this library`)
    if (this.#revocations.has(deviceId) && record.revoked === true) return
    this.#catalog.transact(() => {
      if (!this.#revocations.has(deviceId))
        this.#revocations.set(deviceId, { at: Date.now(), by: this.selfId })
      this.#catalog.putDevice(deviceId, { ...record, revoked: true })
    })
  }

  /**
   * Puts a device on the list as a member, lifting an earlier revocation: what the pairing
   * handler does when a device proves it holds an invite.
   */
  admit(peerId: PeerId | string, record: Omit<DeviceRecord, 'revoked'>): void {
    const deviceId = peerId.toString()
    this.#catalog.transact(() => {
      this.#revocations.delete(deviceId)
      this.#catalog.putDevice(deviceId, { ...record })
    })
  }

  /** Stops observing the catalog. */
  close(): void {
    if (!this.#observing) return
    this.#observing = false
    this.#catalog.doc.off('afterTransaction', this.#afterTransaction)
  }

  #activeSet(): Set<string> {
    const active = new Set<string>()
    for (const deviceId of this.#devices.keys()) if (this.isMember(deviceId)) active.add(deviceId)
    return active
  }

  // Once per transaction, local or remote: the device list is small, so recompute and compare.
  readonly #afterTransaction = (transaction: Y.Transaction): void => {
    const changed = transaction.changed as Map<unknown, unknown>
    if (!changed.has(this.#devices) && !changed.has(this.#revocations)) return
    const before = this.#active
    const after = this.#activeSet()
    this.#active = after
    const joined = [...after].filter((id) => !before.has(id))
    const left = [...before].filter((id) => !after.has(id))
    const wasSelfRevoked = this.#selfRevoked
    this.#selfRevoked = this.isRevoked(this.selfId)
    if (joined.length > 0 || left.length > 0) this.safeDispatchEvent('change', { detail: { joined, left } })
    if (this.#selfRevoked && !wasSelfRevoked) this.safeDispatchEvent('self-revoked')
  }
}

function isRecord(value: unknown): value is DeviceRecord {
  return typeof value === 'object' && value !== null && typeof (value as DeviceRecord).name === 'string'
}
