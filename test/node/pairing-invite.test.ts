import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { MalformedInviteError } from '../../src/node/protocols/pairing/errors.ts'
import {
  createInvite,
  dialAddresses,
  formatCode,
  formatLink,
  parseInvite,
  pickCodeAddress,
} from '../../src/node/protocols/pairing/invite.ts'
import { InviteBook } from '../../src/node/protocols/pairing/invite-book.ts'
import { inviteIdOf } from '../../src/node/protocols/pairing/proofs.ts'
import { type AttemptOutcome, FailureThrottle } from '../../src/node/protocols/pairing/rate-limit.ts'
import {
  base64urlDecode,
  base64urlEncode,
  crockfordDecode,
  crockfordEncode,
} from '../../src/node/protocols/pairing/text-codecs.ts'

async function newPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

const ADDRESSES = ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.20/tcp/4001', '/ip4/192.168.1.20/tcp/4002/ws']

describe('createInvite / parseInvite', () => {
  it('round-trips the link, the bare payload and the code', async () => {
    const peerId = await newPeerId()
    const invite = await createInvite({
      peerId,
      addresses: ADDRESSES.map((a) => `${a}/p2p/${peerId}`),
      ttlMs: 60_000,
    })
    expect(invite.secret).toHaveLength(16)
    expect(invite.id).toBe(await inviteIdOf(invite.secret))
    expect(invite.id).toMatch(/^[0-9a-f]{16}$/)
    expect(invite.link.startsWith('cloudless://join#')).toBe(true)
    expect(invite.addresses).toEqual(ADDRESSES)

    const fromLink = parseInvite(invite.link)
    expect(fromLink).toEqual({
      form: 'link',
      secret: invite.secret,
      peerId,
      addresses: ADDRESSES,
      expiresAt: invite.expiresAt,
    })
    expect(parseInvite(invite.link.slice('cloudless://join#'.length))).toEqual(fromLink)
    // Pasted with surrounding blanks or wrapped across lines, and with an upper-case scheme.
    const wrapped = `  ${invite.link.slice(0, 40)}\n${invite.link.slice(40)}  `
    expect(parseInvite(wrapped)).toEqual(fromLink)
    expect(parseInvite(invite.link.replace('cloudless://join#', 'CLOUDLESS://JOIN#'))).toEqual(fromLink)

    expect(invite.code).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){9}[0-9A-HJKMNP-TV-Z]{4}$/)
    const fromCode = parseInvite(invite.code!)
    // The code carries a LAN address rather than loopback.
    expect(fromCode).toEqual({
      form: 'code',
      secret: invite.secret,
      addresses: ['/ip4/192.168.1.20/tcp/4001'],
    })
    expect(parseInvite(invite.code!.toLowerCase().replaceAll('-', ''))).toEqual(fromCode)
    expect(parseInvite(invite.code!.replaceAll('-', ' '))).toEqual(fromCode)
    expect(parseInvite(` ${invite.code!.slice(0, 22)} - ${invite.code!.slice(22)} `)).toEqual(fromCode)
  })

  it('reads O, I and L in a code as 0, 1 and 1', () => {
    const secret = new Uint8Array(16)
    const code = formatCode(secret, { ip: '10.0.0.1', port: 1 })
    const withAliases = code.replaceAll('0', 'O').replaceAll('1', 'l')
    expect(parseInvite(withAliases)).toEqual(parseInvite(code))
  })

  it('dials link addresses with the inviter peer id, code addresses without', async () => {
    const peerId = await newPeerId()
    const invite = await createInvite({ peerId, addresses: ['/ip4/10.1.2.3/tcp/9'] })
    expect(dialAddresses(parseInvite(invite.link)).map(String)).toEqual([`/ip4/10.1.2.3/tcp/9/p2p/${peerId}`])
    expect(dialAddresses(parseInvite(invite.code!)).map(String)).toEqual(['/ip4/10.1.2.3/tcp/9'])
  })

  it('makes no code without an IPv4 TCP address, and falls back to loopback', async () => {
    const peerId = await newPeerId()
    const noIpv4 = await createInvite({
      peerId,
      addresses: ['/ip6/::1/tcp/4001', '/ip4/10.0.0.2/tcp/4001/ws'],
    })
    expect(noIpv4.code).toBeUndefined()
    expect(parseInvite(noIpv4.link).addresses).toEqual(['/ip6/::1/tcp/4001', '/ip4/10.0.0.2/tcp/4001/ws'])
    expect(pickCodeAddress([multiaddr('/ip4/127.0.0.1/tcp/5')])).toEqual({ ip: '127.0.0.1', port: 5 })
    expect(
      pickCodeAddress([multiaddr('/ip4/0.0.0.0/tcp/5'), multiaddr('/ip4/169.254.1.1/tcp/5')]),
    ).toBeUndefined()
  })

  it('refuses to make an invite without addresses or with a bad ttl', async () => {
    const peerId = await newPeerId()
    await expect(createInvite({ peerId, addresses: [] })).rejects.toThrow(RangeError)
    await expect(createInvite({ peerId, addresses: ADDRESSES, ttlMs: 0 })).rejects.toThrow(RangeError)
  })

  it('gives every secret its own id and code', async () => {
    const peerId = await newPeerId()
    const a = await createInvite({ peerId, addresses: ADDRESSES })
    const b = await createInvite({ peerId, addresses: ADDRESSES })
    expect(a.id).not.toBe(b.id)
    expect(a.code).not.toBe(b.code)
  })
})

describe('parseInvite on garbage', () => {
  const cases: [string, string, RegExp][] = [
    ['empty', '   ', /empty/],
    ['a word', 'hello', /has 5/],
    ['a web address', 'https://example.com/join', /web address/],
    ['another cloudless link', 'cloudless://open#abc', /starts with cloudless:\/\/join#/],
    ['a link without payload', 'cloudless://join#', /no payload/],
    ['a payload with foreign characters', 'cloudless://join#abc$def', /neither an invite link nor a code/],
    ['a short base64 payload', 'cloudless://join#AQ', /cut short|damaged/],
  ]
  for (const [what, text, message] of cases) {
    it(`explains ${what}`, () => {
      expect(() => parseInvite(text)).toThrow(MalformedInviteError)
      expect(() => parseInvite(text)).toThrow(message)
    })
  }

  it('catches every single-character typo in a code', () => {
    const code = formatCode(crypto.getRandomValues(new Uint8Array(16)), { ip: '192.168.0.7', port: 40123 })
    const compact = code.replaceAll('-', '')
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
    for (let i = 0; i < compact.length; i++) {
      for (const replacement of [
        alphabet[(alphabet.indexOf(compact[i]!) + 1) % 32]!,
        alphabet[(alphabet.indexOf(compact[i]!) + 17) % 32]!,
      ]) {
        const typo = compact.slice(0, i) + replacement + compact.slice(i + 1)
        expect(() => parseInvite(typo), `typo at ${i}`).toThrow(/typo/)
      }
    }
    // Two neighbours swapped.
    const swapped = compact[1]! + compact[0]! + compact.slice(2)
    if (swapped !== compact) expect(() => parseInvite(swapped)).toThrow(/typo/)
  })

  it('counts the characters of a code that is too short or too long', () => {
    const code = formatCode(new Uint8Array(16).fill(7), { ip: '192.168.0.7', port: 1 })
    expect(() => parseInvite(code.slice(0, -5))).toThrow(/40 letters and digits; this one has 36/)
    expect(() => parseInvite(`${code}-ABCD`)).toThrow(/this one has 44/)
    expect(() => parseInvite(code.replace(/^./, 'U'))).toThrow(/"U" cannot appear/)
  })

  it('rejects damaged links', async () => {
    const peerId = await newPeerId()
    const invite = await createInvite({ peerId, addresses: ADDRESSES })
    const payload = base64urlDecode(invite.link.slice('cloudless://join#'.length))!
    const encode = (bytes: Uint8Array) => `cloudless://join#${base64urlEncode(bytes)}`

    const futureVersion = payload.slice()
    futureVersion[0] = 2
    expect(() => parseInvite(encode(futureVersion))).toThrow(/format version 2/)

    for (let cut = 1; cut < payload.length; cut += 7) {
      expect(() => parseInvite(encode(payload.subarray(0, cut)))).toThrow(MalformedInviteError)
    }
    const extra = new Uint8Array(payload.length + 1)
    extra.set(payload)
    expect(() => parseInvite(encode(extra))).toThrow(/extra bytes/)

    const badPeer = formatLink({
      peerId: 'not-a-peer-id',
      addresses: [],
      secret: new Uint8Array(16),
      expiresAt: 1,
    })
    expect(() => parseInvite(badPeer)).toThrow(/invalid peer id/)
    const noAddresses = formatLink({ peerId, addresses: [], secret: new Uint8Array(16), expiresAt: 1 })
    expect(() => parseInvite(noAddresses)).toThrow(/no address/)
  })

  it('never throws anything but MalformedInviteError on random input', () => {
    for (let i = 0; i < 300; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + (i % 120)))
      const texts = [
        base64urlEncode(bytes),
        `cloudless://join#${base64urlEncode(bytes)}`,
        crockfordEncode(bytes),
      ]
      for (const text of texts) {
        try {
          parseInvite(text)
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedInviteError)
        }
      }
    }
  })
})

describe('text codecs', () => {
  it('round-trip base64url and Crockford base32', () => {
    for (let length = 0; length < 40; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length))
      expect(base64urlDecode(base64urlEncode(bytes))).toEqual(bytes)
      expect(Buffer.from(base64urlEncode(bytes), 'base64url')).toEqual(Buffer.from(bytes))
      const decoded = crockfordDecode(crockfordEncode(bytes), length)
      expect(decoded).toEqual({ bytes })
    }
  })
})

describe('InviteBook', () => {
  it('tracks open, used, expired and burnt invites', () => {
    let now = 1_000
    const book = new InviteBook({ now: () => now, maxWrongProofs: 3, closedGraceMs: 500 })
    const changes: number[] = []
    book.addEventListener('change', (event) => changes.push(event.detail.open))
    book.add({ id: 'a', secret: new Uint8Array(16), expiresAt: 2_000 })
    book.add({ id: 'b', secret: new Uint8Array(16), expiresAt: 5_000 })
    book.add({ id: 'c', secret: new Uint8Array(16), expiresAt: 5_000 })
    expect(book.openCount).toBe(3)
    expect(book.hasOpen()).toBe(true)

    book.markUsed('b', 'peer-1')
    expect(book.stateOf(book.get('b')!)).toBe('used')
    expect(book.get('b')!.usedBy).toBe('peer-1')

    expect(book.recordWrongProof('c')).toBe(false)
    expect(book.recordWrongProof('c')).toBe(false)
    expect(book.recordWrongProof('c')).toBe(true)
    expect(book.stateOf(book.get('c')!)).toBe('burnt')

    now = 2_000
    expect(book.stateOf(book.get('a')!)).toBe('expired')
    expect(book.hasOpen()).toBe(false)
    expect(book.recentlyClosed()).toBe(true)
    now = 2_600
    expect(book.recentlyClosed()).toBe(false)
    expect(changes).toEqual([1, 2, 3, 2, 1])
    book.clear()
  })
})

describe('InviteBook expiry', () => {
  it('announces an expiry as a change', async () => {
    const book = new InviteBook()
    const changes: number[] = []
    book.addEventListener('change', (event) => changes.push(event.detail.open))
    book.add({ id: 'soon', secret: new Uint8Array(16), expiresAt: Date.now() + 20 })
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect(changes).toEqual([1, 0])
    expect(book.stateOf(book.get('soon')!)).toBe('expired')
    book.clear()
  })
})

describe('FailureThrottle', () => {
  it('makes every further failure of a peer cost more, up to the cap', async () => {
    const throttle = new FailureThrottle({ baseDelayMs: 1, maxDelayMs: 8, globalDoublingFailures: 100 })
    const penalties: number[] = []
    for (let i = 0; i < 6; i++) {
      penalties.push(throttle.penaltyFor('peer'))
      await throttle.run('peer', async () => ({ result: undefined, failed: true }))
    }
    expect(penalties).toEqual([1, 2, 4, 8, 8, 8])
    // Another peer pays only the (slower-growing) global delay.
    expect(throttle.penaltyFor('other')).toBeLessThan(2)
    await throttle.run('peer', async () => ({ result: undefined, failed: false }))
    expect(throttle.penaltyFor('peer')).toBeLessThan(2)
  })

  it('refuses attempts beyond the waiting limit', async () => {
    const throttle = new FailureThrottle({ maxWaiting: 1 })
    let finish: () => void = () => {}
    const first = throttle.run(
      'a',
      () =>
        new Promise<AttemptOutcome<number>>((resolve) => {
          finish = () => resolve({ result: 1, failed: false })
        }),
    )
    await expect(throttle.run('b', async () => ({ result: 2, failed: false }))).rejects.toThrow(/too many/)
    finish()
    await expect(first).resolves.toBe(1)
  })
})
