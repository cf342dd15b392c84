import * as encoding from 'lib0/encoding'

/**
 * The secret-based proofs of the pairing exchange, on WebCrypto so a browser peer can use them.
 * Both proofs bind the peer ids of the authenticated (noise) connection: a proof seen by a relay
 * or by whoever answers at the code's address is worthless on any other connection.
 */

const JOIN_LABEL = 'cloudless-join'
const ACCEPT_LABEL = 'cloudless-accept'

/** Bytes of an invite id: the first 8 bytes of SHA-256(secret). */
export const INVITE_ID_BYTES = 8
export const SECRET_BYTES = 16
export const PROOF_BYTES = 32

/** The invite's public name, derived from its secret: hex of the first 8 bytes of SHA-256(secret). */
export async function inviteIdOf(secret: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', copy(secret)))
  return toHex(digest.subarray(0, INVITE_ID_BYTES))
}

/** What the joiner sends: HMAC-SHA256(secret, "cloudless-join" ‖ joiner ‖ inviter). */
export async function joinProof(
  secret: Uint8Array,
  joinerPeerId: string,
  inviterPeerId: string,
): Promise<Uint8Array> {
  return hmac(secret, fields(JOIN_LABEL, joinerPeerId, inviterPeerId))
}

/** What the inviter answers: HMAC-SHA256(secret, "cloudless-accept" ‖ joiner ‖ inviter ‖ library id). */
export async function acceptProof(
  secret: Uint8Array,
  joinerPeerId: string,
  inviterPeerId: string,
  libraryId: string,
): Promise<Uint8Array> {
  return hmac(secret, fields(ACCEPT_LABEL, joinerPeerId, inviterPeerId, libraryId))
}

/** Compares in time that depends only on the lengths, not on where the bytes differ. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}

export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** Each field length-prefixed, so no two different field lists give the same bytes. */
function fields(...values: string[]): Uint8Array {
  const encoder = encoding.createEncoder()
  for (const value of values) encoding.writeVarString(encoder, value)
  return encoding.toUint8Array(encoder)
}

async function hmac(secret: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', copy(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ])
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, copy(data)))
}

/** WebCrypto's types want an ArrayBuffer-backed view; this also detaches us from the caller's buffer. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}
