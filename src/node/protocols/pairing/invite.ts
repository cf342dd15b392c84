import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_IP4, CODE_P2P, CODE_TCP, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { DEFAULT_INVITE_TTL_MS, MAX_INVITE_ADDRESSES } from './constants.ts'
import { MalformedInviteError } from './errors.ts'
import { inviteIdOf, SECRET_BYTES } from './proofs.ts'
import { base64urlDecode, base64urlEncode, crc24, crockfordDecode, crockfordEncode } from './text-codecs.ts'

/**
 * Invites, in two forms.
 *
 * The link, `cloudless://join#<payload>`, carries everything: the payload is base64url of
 *   u8             version = 1
 *   varString      inviter peer id
 *   varUint        expiry, ms since epoch
 *   16 bytes       secret
 *   varUint        address count, then each multiaddr's bytes as a varUint8Array
 * The part after '#' is never sent to a server, should a web page ever open such a link.
 *
 * The code is what a person can type: 25 bytes in Crockford base32, 40 characters in groups of 4:
 *   16 bytes secret, 4 bytes IPv4 address, 2 bytes TCP port (big-endian),
 *   3 bytes CRC-24 over (version byte = 1 ‖ those 22 bytes).
 * The check costs 4 characters and catches every single typo before we dial, where a typo would
 * otherwise cost a wrong attempt (which the inviter throttles) or a dial to nowhere. The version
 * is folded into the check, so a future layout fails the check instead of being misread.
 * A code names no peer id: the joiner learns it from the noise handshake, and the proofs
 * (proofs.ts) show that the device there holds the secret.
 */

export const LINK_PREFIX = 'cloudless://join#'
const LINK_VERSION = 1
const CODE_VERSION = 1
const CODE_DATA_BYTES = SECRET_BYTES + 4 + 2
const CODE_BYTES = CODE_DATA_BYTES + 3
/** 25 bytes = 200 bits = 40 base32 characters. */
const CODE_CHARS = 40
const CODE_GROUP = 4
/** Letters and digits up to this many are taken for a (mistyped) code; a link payload is far longer. */
const MAX_CODE_LIKE_CHARS = 60

export interface Invite {
  /** The invite's public name: hex of the first 8 bytes of SHA-256(secret). */
  id: string
  secret: Uint8Array
  /** ms since epoch */
  expiresAt: number
  /** The inviter's peer id. */
  peerId: string
  /** The inviter's addresses the link carries (without /p2p/<peerId>). */
  addresses: string[]
  /** `cloudless://join#<payload>` */
  link: string
  /** The typeable form; absent when the inviter has no IPv4 TCP address. */
  code?: string
}

export interface CreateInviteOptions {
  peerId: PeerId | string
  /** The inviter's multiaddrs; a trailing /p2p/<peerId> is dropped. */
  addresses: string[]
  ttlMs?: number
  /** Current time in ms (tests). */
  now?: number
}

/** Makes a new invite with a fresh 128-bit secret. It is not open until added to an InviteBook. */
export async function createInvite(options: CreateInviteOptions): Promise<Invite> {
  const peerId = options.peerId.toString()
  peerIdFromString(peerId)
  const ttlMs = options.ttlMs ?? DEFAULT_INVITE_TTL_MS
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`invalid invite ttl ${ttlMs}`)
  const expiresAt = Math.round((options.now ?? Date.now()) + ttlMs)
  const all = dedupe(options.addresses.map((address) => withoutPeerId(multiaddr(address), peerId)))
  if (all.length === 0) throw new RangeError('an invite needs at least one address of the inviter')
  const addresses = all.slice(0, MAX_INVITE_ADDRESSES)
  const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES))
  const id = await inviteIdOf(secret)
  const link = formatLink({ peerId, addresses, secret, expiresAt })
  const codeAddress = pickCodeAddress(all)
  const code = codeAddress === undefined ? undefined : formatCode(secret, codeAddress)
  return {
    id,
    secret,
    expiresAt,
    peerId,
    addresses: addresses.map((address) => address.toString()),
    link,
    ...(code === undefined ? {} : { code }),
  }
}

/** A parsed link (or bare payload): it names the inviter and its addresses. */
export interface ParsedLinkInvite {
  form: 'link'
  secret: Uint8Array
  peerId: string
  addresses: string[]
  expiresAt: number
}

/** A parsed code: one address; the inviter's peer id is learned when connecting. */
export interface ParsedCodeInvite {
  form: 'code'
  secret: Uint8Array
  peerId?: undefined
  addresses: string[]
  expiresAt?: undefined
}

export type ParsedInvite = ParsedLinkInvite | ParsedCodeInvite

/**
 * Reads an invite a person pasted or typed: a `cloudless://join#…` link, the bare payload, or a
 * code (any case; dashes and spaces optional). Throws MalformedInviteError saying what is wrong.
 */
export function parseInvite(text: string): ParsedInvite {
  if (typeof text !== 'string') throw new MalformedInviteError('an invite must be text')
  const trimmed = text.trim()
  if (trimmed === '') throw new MalformedInviteError('the invite is empty')
  if (/^cloudless:/i.test(trimmed)) {
    if (trimmed.slice(0, LINK_PREFIX.length).toLowerCase() !== LINK_PREFIX) {
      throw new MalformedInviteError(`a cloudless link starts with ${LINK_PREFIX}`)
    }
    return parsePayload(trimmed.slice(LINK_PREFIX.length).replace(/\s+/g, ''))
  }
  const compact = trimmed.replace(/[\s-]+/g, '')
  if (compact.length <= MAX_CODE_LIKE_CHARS && /^[0-9a-z]+$/i.test(compact)) {
    return parseCode(compact)
  }
  if (/^https?:/i.test(trimmed)) {
    throw new MalformedInviteError(`this is a web address, not an invite; a link starts with ${LINK_PREFIX}`)
  }
  return parsePayload(trimmed.replace(/\s+/g, ''))
}

/** Where to dial: every address, with /p2p/<peerId> appended when the peer id is known. */
export function dialAddresses(invite: ParsedInvite): Multiaddr[] {
  return invite.addresses.map((address) => {
    const ma = multiaddr(address)
    if (invite.peerId === undefined || ma.getComponents().at(-1)?.code === CODE_P2P) return ma
    return ma.encapsulate(`/p2p/${invite.peerId}`)
  })
}

export function formatLink(fields: {
  peerId: string
  addresses: Multiaddr[]
  secret: Uint8Array
  expiresAt: number
}): string {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, LINK_VERSION)
  encoding.writeVarString(encoder, fields.peerId)
  encoding.writeVarUint(encoder, fields.expiresAt)
  encoding.writeUint8Array(encoder, fields.secret)
  encoding.writeVarUint(encoder, fields.addresses.length)
  for (const address of fields.addresses) encoding.writeVarUint8Array(encoder, address.bytes)
  return LINK_PREFIX + base64urlEncode(encoding.toUint8Array(encoder))
}

function parsePayload(payload: string): ParsedLinkInvite {
  if (payload === '') throw new MalformedInviteError('the link has no payload after "#"')
  const bytes = base64urlDecode(payload)
  if (bytes === undefined) {
    throw new MalformedInviteError(
      'this is neither an invite link nor a code: a link payload holds only A-Z a-z 0-9 - _, a code 40 letters and digits',
    )
  }
  const decoder = decoding.createDecoder(bytes)
  const field = <T>(what: string, read: () => T): T => {
    try {
      return read()
    } catch {
      throw new MalformedInviteError(`the invite link is cut short or damaged (at the ${what})`)
    }
  }
  const version = field('version', () => decoding.readUint8(decoder))
  if (version !== LINK_VERSION) {
    throw new MalformedInviteError(
      `the invite link has format version ${version}; this version of cloudless reads version ${LINK_VERSION}`,
    )
  }
  const peerId = field('peer id', () => decoding.readVarString(decoder))
  try {
    peerIdFromString(peerId)
  } catch {
    throw new MalformedInviteError('the invite link names an invalid peer id')
  }
  const expiresAt = field('expiry', () => decoding.readVarUint(decoder))
  const secret = field('secret', () => decoding.readUint8Array(decoder, SECRET_BYTES).slice())
  const count = field('address count', () => decoding.readVarUint(decoder))
  if (count > MAX_INVITE_ADDRESSES) {
    throw new MalformedInviteError(
      `the invite link lists ${count} addresses, at most ${MAX_INVITE_ADDRESSES} make sense`,
    )
  }
  const addresses: string[] = []
  for (let i = 0; i < count; i++) {
    const raw = field('addresses', () => decoding.readVarUint8Array(decoder))
    try {
      addresses.push(multiaddr(raw.slice()).toString())
    } catch {
      throw new MalformedInviteError(`address ${i + 1} in the invite link is not a valid multiaddr`)
    }
  }
  if (decoder.pos !== bytes.length) {
    throw new MalformedInviteError('the invite link has extra bytes at its end (damaged, or pasted twice?)')
  }
  if (addresses.length === 0)
    throw new MalformedInviteError('the invite link lists no address to reach the inviter')
  return { form: 'link', secret, peerId, addresses, expiresAt }
}

function parseCode(compact: string): ParsedCodeInvite {
  if (compact.length !== CODE_CHARS) {
    throw new MalformedInviteError(
      `an invite code has ${CODE_CHARS} letters and digits; this one has ${compact.length} (a group missing or doubled?)`,
    )
  }
  const decoded = crockfordDecode(compact, CODE_BYTES)
  if ('badCharacter' in decoded) {
    throw new MalformedInviteError(`"${decoded.badCharacter}" cannot appear in an invite code`)
  }
  const bytes = decoded.bytes
  const data = bytes.subarray(0, CODE_DATA_BYTES)
  const check =
    (bytes[CODE_DATA_BYTES]! << 16) | (bytes[CODE_DATA_BYTES + 1]! << 8) | bytes[CODE_DATA_BYTES + 2]!
  if (check !== codeCheck(data)) {
    throw new MalformedInviteError(
      'the invite code has a typo: its check characters do not match; compare it again',
    )
  }
  const ip = `${data[16]}.${data[17]}.${data[18]}.${data[19]}`
  const port = (data[20]! << 8) | data[21]!
  if (port === 0) throw new MalformedInviteError('the invite code names port 0')
  return { form: 'code', secret: data.slice(0, SECRET_BYTES), addresses: [`/ip4/${ip}/tcp/${port}`] }
}

export function formatCode(secret: Uint8Array, address: { ip: string; port: number }): string {
  if (secret.length !== SECRET_BYTES) throw new RangeError(`a secret has ${SECRET_BYTES} bytes`)
  const bytes = new Uint8Array(CODE_BYTES)
  bytes.set(secret, 0)
  bytes.set(
    address.ip.split('.').map((part) => Number(part)),
    SECRET_BYTES,
  )
  bytes[20] = address.port >>> 8
  bytes[21] = address.port & 0xff
  const check = codeCheck(bytes.subarray(0, CODE_DATA_BYTES))
  bytes[22] = check >>> 16
  bytes[23] = (check >>> 8) & 0xff
  bytes[24] = check & 0xff
  const chars = crockfordEncode(bytes)
  const groups: string[] = []
  for (let i = 0; i < chars.length; i += CODE_GROUP) groups.push(chars.slice(i, i + CODE_GROUP))
  return groups.join('-')
}

function codeCheck(data: Uint8Array): number {
  const input = new Uint8Array(data.length + 1)
  input[0] = CODE_VERSION
  input.set(data, 1)
  return crc24(input)
}

/**
 * The address a code carries: an IPv4 TCP address, preferring one other devices can reach (not
 * loopback, link-local or unspecified); loopback only when there is nothing else.
 */
export function pickCodeAddress(addresses: Multiaddr[]): { ip: string; port: number } | undefined {
  const candidates: { ip: string; port: number }[] = []
  for (const address of addresses) {
    const components = address.getComponents()
    const [ip4, tcp, ...rest] = components
    if (ip4?.code !== CODE_IP4 || tcp?.code !== CODE_TCP) continue
    if (rest.some((component) => component.code !== CODE_P2P)) continue
    const port = Number(tcp.value)
    if (ip4.value === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) continue
    if (ip4.value === '0.0.0.0' || ip4.value.startsWith('169.254.')) continue
    candidates.push({ ip: ip4.value, port })
  }
  return candidates.find((candidate) => !candidate.ip.startsWith('127.')) ?? candidates[0]
}

function withoutPeerId(address: Multiaddr, peerId: string): Multiaddr {
  const last = address.getComponents().at(-1)
  if (last?.code === CODE_P2P && last.value === peerId) return address.decapsulateCode(CODE_P2P)
  return address
}

function dedupe(addresses: Multiaddr[]): Multiaddr[] {
  const seen = new Set<string>()
  return addresses.filter((address) => {
    const key = address.toString()
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
