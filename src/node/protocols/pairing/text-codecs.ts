/**
 * Text encodings for invites, with no platform dependencies (a web app parses invites too):
 * base64url for links, Crockford base32 for codes a person types, CRC-24 to catch typos.
 */

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const BASE64URL_VALUES = reverseAlphabet(BASE64URL)

/** RFC 4648 base64url without padding. */
export function base64urlEncode(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out +=
      BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]! + BASE64URL[(n >>> 6) & 63]! + BASE64URL[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]! + BASE64URL[(n >>> 6) & 63]!
  }
  return out
}

/** Decodes unpadded base64url (trailing '=' tolerated); returns undefined on any other character. */
export function base64urlDecode(text: string): Uint8Array | undefined {
  const body = text.replace(/=+$/, '')
  if (body.length % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((body.length * 3) / 4))
  let bits = 0
  let value = 0
  let o = 0
  for (let i = 0; i < body.length; i++) {
    const v = BASE64URL_VALUES.get(body[i]!)
    if (v === undefined) return undefined
    value = ((value << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (value >>> bits) & 0xff
    }
  }
  return out
}

/** Crockford's base32 alphabet: no I, L, O, U, so what a person reads is what they type. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const CROCKFORD_VALUES = (() => {
  const values = reverseAlphabet(CROCKFORD)
  for (const [alias, digit] of [
    ['O', '0'],
    ['I', '1'],
    ['L', '1'],
  ] as const) {
    values.set(alias, values.get(digit)!)
  }
  return values
})()

export function crockfordEncode(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += CROCKFORD[(value >>> bits) & 31]
    }
  }
  if (bits > 0) out += CROCKFORD[(value << (5 - bits)) & 31]
  return out
}

/**
 * Decodes Crockford base32 (upper or lower case, O/I/L read as 0/1) into exactly `byteLength`
 * bytes. Returns the offending character when one is not in the alphabet.
 */
export function crockfordDecode(
  text: string,
  byteLength: number,
): { bytes: Uint8Array } | { badCharacter: string } {
  const out = new Uint8Array(byteLength)
  let bits = 0
  let value = 0
  let o = 0
  for (const char of text.toUpperCase()) {
    const v = CROCKFORD_VALUES.get(char)
    if (v === undefined) return { badCharacter: char }
    value = ((value << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      if (o < byteLength) out[o++] = (value >>> bits) & 0xff
    }
  }
  return { bytes: out }
}

/** CRC-24 (OpenPGP, RFC 4880): detects every error burst of up to 24 bits, so every single-character typo. */
export function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce
  for (const byte of bytes) {
    crc ^= byte << 16
    for (let i = 0; i < 8; i++) {
      crc <<= 1
      if (crc & 0x1000000) crc ^= 0x1864cfb
    }
  }
  return crc & 0xffffff
}

function reverseAlphabet(alphabet: string): Map<string, number> {
  return new Map([...alphabet].map((char, index) => [char, index]))
}
