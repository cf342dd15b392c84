import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  BLOCK_MESSAGE_HEADER_BYTES,
  type BlobErrorCode,
  BlobMessageKind,
  type BlobRequest,
  type BlobResponse,
  decodeRequest,
  decodeResponse,
  encodeBlockHeader,
  encodeManifest,
  encodeRequest,
  encodeResponse,
  MAX_BLOCK_BYTES,
  MAX_BLOCKS_PER_REQUEST,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_REQUEST_BYTES,
  MalformedBlobMessageError,
  manifestOf,
  UnknownBlobErrorCodeError,
  UnknownBlobMessageKindError,
} from '../../src/blobs/index.ts'

const { contentId, manifest } = manifestOf(randomBytes(600_000))
const CODES: BlobErrorCode[] = ['not-found', 'changed', 'busy', 'bad-request', 'internal']

/** A deterministic PRNG, so a failing fuzz case can be reproduced. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

describe('blob wire codec: requests', () => {
  it('round-trips manifest and blocks requests', () => {
    const requests: BlobRequest[] = [
      { kind: 'manifest', contentId },
      { kind: 'blocks', contentId, first: 0, count: 1 },
      { kind: 'blocks', contentId, first: 40, count: 4 },
      { kind: 'blocks', contentId, first: 2 ** 32 - MAX_BLOCKS_PER_REQUEST, count: MAX_BLOCKS_PER_REQUEST },
    ]
    for (const request of requests) {
      const bytes = encodeRequest(request)
      expect(bytes.length).toBeLessThanOrEqual(MAX_REQUEST_BYTES)
      expect(decodeRequest(bytes)).toEqual(request)
    }
  })

  it('lays out a blocks request as documented', () => {
    const bytes = encodeRequest({ kind: 'blocks', contentId, first: 0x01020304, count: 7 })
    expect(bytes[0]).toBe(0x02)
    expect(Buffer.from(bytes.subarray(1, 53)).toString('ascii')).toBe(contentId)
    expect([...bytes.subarray(53)]).toEqual([1, 2, 3, 4, 0, 0, 0, 7])
  })

  it('refuses to encode what it could not decode', () => {
    expect(() => encodeRequest({ kind: 'manifest', contentId: 'nope' })).toThrow(RangeError)
    expect(() => encodeRequest({ kind: 'blocks', contentId, first: -1, count: 1 })).toThrow(RangeError)
    expect(() => encodeRequest({ kind: 'blocks', contentId, first: 0, count: 0 })).toThrow(RangeError)
    expect(() =>
      encodeRequest({ kind: 'blocks', contentId, first: 0, count: MAX_BLOCKS_PER_REQUEST + 1 }),
    ).toThrow(RangeError)
    expect(() => encodeRequest({ kind: 'blocks', contentId, first: 2 ** 32 - 1, count: 2 })).toThrow(
      RangeError,
    )
  })

  it('throws named errors on malformed requests', () => {
    const good = encodeRequest({ kind: 'blocks', contentId, first: 3, count: 2 })
    const withCount = (count: number) => {
      const bytes = good.slice()
      new DataView(bytes.buffer).setUint32(57, count)
      return bytes
    }
    const badId = good.slice()
    badId[1] = '!'.charCodeAt(0)
    const cases: [Uint8Array, typeof MalformedBlobMessageError][] = [
      [new Uint8Array(0), MalformedBlobMessageError],
      [Uint8Array.of(0x03), UnknownBlobMessageKindError],
      [Uint8Array.of(BlobMessageKind.End), UnknownBlobMessageKindError],
      [good.subarray(0, good.length - 1), MalformedBlobMessageError],
      [Uint8Array.from([...good, 0]), MalformedBlobMessageError],
      [badId, MalformedBlobMessageError],
      [withCount(0), MalformedBlobMessageError],
      [withCount(MAX_BLOCKS_PER_REQUEST + 1), MalformedBlobMessageError],
      [encodeRequest({ kind: 'manifest', contentId }).subarray(0, 30), MalformedBlobMessageError],
    ]
    for (const [bytes, error] of cases) expect(() => decodeRequest(bytes)).toThrow(error)
  })
})

describe('blob wire codec: responses', () => {
  it('round-trips every response kind', () => {
    const block = randomBytes(256 * 1024)
    const responses: BlobResponse[] = [
      { kind: 'manifest', manifest: encodeManifest(manifest) },
      { kind: 'block', index: 0, bytes: Uint8Array.of(7) },
      { kind: 'block', index: 2 ** 32 - 1, bytes: new Uint8Array(block) },
      { kind: 'end' },
      ...CODES.map((code): BlobResponse => ({ kind: 'error', code, message: `why: ${code} ✓` })),
      { kind: 'error', code: 'internal', message: '' },
    ]
    for (const response of responses) {
      const decoded = decodeResponse(encodeResponse(response))
      expect(decoded.kind).toBe(response.kind)
      if (decoded.kind === 'manifest' && response.kind === 'manifest') {
        expect(Buffer.compare(decoded.manifest, response.manifest)).toBe(0)
      } else if (decoded.kind === 'block' && response.kind === 'block') {
        expect(decoded.index).toBe(response.index)
        expect(Buffer.compare(decoded.bytes, response.bytes)).toBe(0)
      } else {
        expect(decoded).toEqual(response)
      }
    }
  })

  it('builds a block message from a header and the bytes as one message would be', () => {
    const bytes = randomBytes(1000)
    const whole = encodeResponse({ kind: 'block', index: 41, bytes })
    const header = encodeBlockHeader(41)
    expect(header.length).toBe(BLOCK_MESSAGE_HEADER_BYTES)
    expect(Buffer.compare(Buffer.concat([header, bytes]), whole)).toBe(0)
  })

  it('cuts long error messages to the limit without splitting a character', () => {
    const message = 'é'.repeat(MAX_ERROR_MESSAGE_BYTES)
    const bytes = encodeResponse({ kind: 'error', code: 'internal', message })
    expect(bytes.length).toBeLessThanOrEqual(2 + MAX_ERROR_MESSAGE_BYTES)
    const decoded = decodeResponse(bytes)
    expect(decoded.kind === 'error' && decoded.message).toBe('é'.repeat(MAX_ERROR_MESSAGE_BYTES / 2))
  })

  it('throws named errors on malformed responses', () => {
    const longText = new Uint8Array(3 + MAX_ERROR_MESSAGE_BYTES).fill(0x61)
    longText.set([BlobMessageKind.Error, 1], 0)
    const cases: [Uint8Array, typeof MalformedBlobMessageError][] = [
      [new Uint8Array(0), MalformedBlobMessageError],
      [Uint8Array.of(0x01), UnknownBlobMessageKindError],
      [Uint8Array.of(0x85), UnknownBlobMessageKindError],
      [Uint8Array.of(BlobMessageKind.Block, 0, 0, 0, 1), MalformedBlobMessageError],
      [Uint8Array.of(BlobMessageKind.Block, 0, 0), MalformedBlobMessageError],
      [Uint8Array.of(BlobMessageKind.End, 0), MalformedBlobMessageError],
      [Uint8Array.of(BlobMessageKind.Error), MalformedBlobMessageError],
      [Uint8Array.of(BlobMessageKind.Error, 0), UnknownBlobErrorCodeError],
      [Uint8Array.of(BlobMessageKind.Error, 6, 0x61), UnknownBlobErrorCodeError],
      [Uint8Array.of(BlobMessageKind.Error, 1, 0xff, 0xfe), MalformedBlobMessageError],
      [longText, MalformedBlobMessageError],
      [
        new Uint8Array(BLOCK_MESSAGE_HEADER_BYTES + MAX_BLOCK_BYTES + 1).fill(BlobMessageKind.Block, 0, 1),
        MalformedBlobMessageError,
      ],
      [
        new Uint8Array(2 + MAX_MANIFEST_BYTES).fill(BlobMessageKind.Manifest, 0, 1),
        MalformedBlobMessageError,
      ],
    ]
    for (const [bytes, error] of cases) expect(() => decodeResponse(bytes)).toThrow(error)
  })
})

describe('blob wire codec: fuzz', () => {
  /** Random garbage, random-kind garbage and mutated valid messages. */
  function samples(random: () => number, count: number): Uint8Array[] {
    const valid = [
      encodeRequest({ kind: 'manifest', contentId }),
      encodeRequest({ kind: 'blocks', contentId, first: 9, count: 64 }),
      encodeResponse({ kind: 'manifest', manifest: encodeManifest(manifest) }),
      encodeResponse({ kind: 'block', index: 2, bytes: randomBytes(300) }),
      encodeResponse({ kind: 'end' }),
      encodeResponse({ kind: 'error', code: 'changed', message: 'the file changed' }),
    ]
    const out: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const mode = i % 3
      if (mode === 0) {
        const bytes = new Uint8Array(Math.floor(random() * 120))
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256)
        out.push(bytes)
      } else if (mode === 1) {
        const kinds = [0x01, 0x02, 0x81, 0x82, 0x83, 0x84]
        const bytes = new Uint8Array(1 + Math.floor(random() * 80))
        for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256)
        bytes[0] = kinds[Math.floor(random() * kinds.length)]!
        out.push(bytes)
      } else {
        const base = valid[Math.floor(random() * valid.length)]!
        let bytes = base.slice()
        const edits = 1 + Math.floor(random() * 3)
        for (let e = 0; e < edits; e++) {
          const op = Math.floor(random() * 3)
          if (op === 0 && bytes.length > 0)
            bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
          else if (op === 1) bytes = bytes.subarray(0, Math.floor(random() * bytes.length))
          else bytes = Uint8Array.from([...bytes, Math.floor(random() * 256)])
        }
        out.push(bytes)
      }
    }
    return out
  }

  it('decodes or throws MalformedBlobMessageError, never anything else, for 6000 random inputs', () => {
    const random = prng(0xb10b)
    let decoded = 0
    let refused = 0
    for (const bytes of samples(random, 6000)) {
      for (const decode of [decodeRequest, decodeResponse] as ((b: Uint8Array) => unknown)[]) {
        try {
          const message = decode(bytes)
          decoded++
          // What decodes must re-encode to the same bytes: the codec has one encoding per message.
          const again =
            decode === decodeRequest
              ? encodeRequest(message as BlobRequest)
              : encodeResponse(message as BlobResponse)
          expect(Buffer.compare(again, bytes)).toBe(0)
        } catch (err) {
          if (!(err instanceof MalformedBlobMessageError)) throw err
          refused++
        }
      }
    }
    expect(decoded).toBeGreaterThan(100)
    expect(refused).toBeGreaterThan(1000)
  })
})
