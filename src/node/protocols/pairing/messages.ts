import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { MAX_DEVICE_NAME_LENGTH } from './constants.ts'
import { INVITE_ID_BYTES, PROOF_BYTES } from './proofs.ts'

/**
 * The pairing exchange, one length-prefixed message each (stream-io.ts), lib0-encoded:
 *
 *   joiner -> inviter   Join     varUint 1, varUint8Array invite id (8), varString device name,
 *                                varUint8Array proof (32)
 *   inviter -> joiner   Accept   varUint 2, varString library id, varString inviter name,
 *                                varUint8Array accept proof (32), varUint catalog state bytes,
 *                                varUint part count, varUint length of each part
 *                       then the catalog state in messages of ≤ 1 MiB: Yjs updates (the parts), one
 *                       after another, that together hold the whole catalog (the inviter sends what it
 *                       has stored rather than encoding its state anew)
 *                or     Refuse   varUint 3, varString reason code, varString message
 *
 * Then both close. The state is split because a big catalog is ~30 MB and stream buffers hold 4 MiB.
 */

export const MessageKind = { Join: 1, Accept: 2, Refuse: 3 } as const

/** Why an inviter refuses; the joiner turns each into a named error. */
export const RefusalReason = {
  WrongInvite: 'wrong-invite',
  Expired: 'expired',
  Used: 'used',
  Burnt: 'burnt',
  Busy: 'busy',
  Malformed: 'malformed',
  Refused: 'refused',
} as const
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason]

export interface JoinRequest {
  kind: typeof MessageKind.Join
  inviteId: Uint8Array
  deviceName: string
  proof: Uint8Array
}

export interface AcceptReply {
  kind: typeof MessageKind.Accept
  libraryId: string
  inviterName: string
  proof: Uint8Array
  stateBytes: number
  /** Lengths of the Yjs updates that make up the state, in order; they add up to stateBytes. */
  stateParts: number[]
}

export interface RefuseReply {
  kind: typeof MessageKind.Refuse
  reason: string
  message: string
}

export type Reply = AcceptReply | RefuseReply

export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError'
}

const MAX_LIBRARY_ID_LENGTH = 256
/** A stored catalog is one snapshot and at most a few hundred updates (level-store.ts compacts). */
export const MAX_STATE_PARTS = 10_000
const MAX_REFUSAL_TEXT_LENGTH = 1024
/** Names are cut to MAX_DEVICE_NAME_LENGTH after decoding; longer ones on the wire are garbage. */
const MAX_WIRE_NAME_LENGTH = 1024

export function encodeJoinRequest(request: Omit<JoinRequest, 'kind'>): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageKind.Join)
  encoding.writeVarUint8Array(encoder, request.inviteId)
  encoding.writeVarString(encoder, request.deviceName)
  encoding.writeVarUint8Array(encoder, request.proof)
  return encoding.toUint8Array(encoder)
}

export function decodeJoinRequest(bytes: Uint8Array): JoinRequest {
  return decodeWhole(bytes, (decoder) => {
    const kind = decoding.readVarUint(decoder)
    if (kind !== MessageKind.Join)
      throw new MalformedMessageError(`expected a join request, got kind ${kind}`)
    const inviteId = decoding.readVarUint8Array(decoder).slice()
    if (inviteId.length !== INVITE_ID_BYTES) throw new MalformedMessageError('invite id has the wrong length')
    const deviceName = decoding.readVarString(decoder)
    if (deviceName.length > MAX_WIRE_NAME_LENGTH) throw new MalformedMessageError('device name too long')
    const proof = decoding.readVarUint8Array(decoder).slice()
    if (proof.length !== PROOF_BYTES) throw new MalformedMessageError('proof has the wrong length')
    return { kind, inviteId, deviceName, proof }
  })
}

export function encodeAccept(reply: Omit<AcceptReply, 'kind'>): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageKind.Accept)
  encoding.writeVarString(encoder, reply.libraryId)
  encoding.writeVarString(encoder, reply.inviterName)
  encoding.writeVarUint8Array(encoder, reply.proof)
  encoding.writeVarUint(encoder, reply.stateBytes)
  encoding.writeVarUint(encoder, reply.stateParts.length)
  for (const length of reply.stateParts) encoding.writeVarUint(encoder, length)
  return encoding.toUint8Array(encoder)
}

export function encodeRefuse(reply: Omit<RefuseReply, 'kind'>): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageKind.Refuse)
  encoding.writeVarString(encoder, reply.reason)
  encoding.writeVarString(encoder, reply.message.slice(0, MAX_REFUSAL_TEXT_LENGTH))
  return encoding.toUint8Array(encoder)
}

export function decodeReply(bytes: Uint8Array): Reply {
  return decodeWhole(bytes, (decoder): Reply => {
    const kind = decoding.readVarUint(decoder)
    if (kind === MessageKind.Accept) {
      const libraryId = decoding.readVarString(decoder)
      if (libraryId === '' || libraryId.length > MAX_LIBRARY_ID_LENGTH)
        throw new MalformedMessageError('invalid library id')
      const inviterName = decoding.readVarString(decoder)
      if (inviterName.length > MAX_WIRE_NAME_LENGTH) throw new MalformedMessageError('inviter name too long')
      const proof = decoding.readVarUint8Array(decoder).slice()
      if (proof.length !== PROOF_BYTES) throw new MalformedMessageError('proof has the wrong length')
      const stateBytes = decoding.readVarUint(decoder)
      const partCount = decoding.readVarUint(decoder)
      if (partCount > MAX_STATE_PARTS) throw new MalformedMessageError(`too many state parts (${partCount})`)
      const stateParts: number[] = []
      let sum = 0
      for (let i = 0; i < partCount; i++) {
        const length = decoding.readVarUint(decoder)
        stateParts.push(length)
        sum += length
      }
      if (sum !== stateBytes)
        throw new MalformedMessageError(`state parts add up to ${sum} bytes, announced ${stateBytes}`)
      return { kind, libraryId, inviterName, proof, stateBytes, stateParts }
    }
    if (kind === MessageKind.Refuse) {
      const reason = decoding.readVarString(decoder).slice(0, 64)
      const message = decoding.readVarString(decoder).slice(0, MAX_REFUSAL_TEXT_LENGTH)
      return { kind, reason, message }
    }
    throw new MalformedMessageError(`expected a reply, got kind ${kind}`)
  })
}

/** A device name as stored: control characters removed, trimmed, at most 64 characters. */
export function cleanDeviceName(name: string, fallback: string): string {
  const printable = [...name].filter((char) => !isControlCharacter(char.codePointAt(0)!)).join('')
  const cleaned = printable.trim().slice(0, MAX_DEVICE_NAME_LENGTH).trim()
  return cleaned === '' ? fallback : cleaned
}

/** Decodes with `read`, which must consume every byte; lib0's own errors become MalformedMessageError. */
function decodeWhole<T>(bytes: Uint8Array, read: (decoder: decoding.Decoder) => T): T {
  const decoder = decoding.createDecoder(bytes)
  let value: T
  try {
    value = read(decoder)
  } catch (err) {
    if (err instanceof MalformedMessageError) throw err
    throw new MalformedMessageError('message cut short or damaged')
  }
  if (decoder.pos !== bytes.length) throw new MalformedMessageError('message has trailing bytes')
  return value
}

function isControlCharacter(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f)
}
