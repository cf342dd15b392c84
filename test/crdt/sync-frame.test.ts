import { describe, expect, it } from 'vitest'
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameKind,
  MalformedFrameError,
  MessageAssembler,
  MessageTooLargeError,
  splitMessage,
} from '../../src/crdt/sync/index.ts'

const LIBRARY = 'lib-7f3a'

function frame(overrides: Partial<Frame> = {}): Frame {
  const payload = overrides.payload ?? Uint8Array.from([1, 2, 3, 4])
  return {
    libraryId: LIBRARY,
    kind: FrameKind.Update,
    chunkIndex: 0,
    chunkCount: 1,
    messageLength: payload.length,
    ...overrides,
    payload,
  }
}

/** Deterministic bytes, so a failing garbage case can be replayed. */
function pseudoRandomBytes(seed: number, length: number): Uint8Array {
  let state = seed >>> 0 || 1
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    out[i] = state & 0xff
  }
  return out
}

describe('frame codec', () => {
  it('round-trips every kind', () => {
    for (const kind of Object.values(FrameKind)) {
      const original = frame({ kind, libraryId: 'bibliothèque-♫' })
      const decoded = decodeFrame(encodeFrame(original))
      expect(decoded).toEqual(original)
    }
  })

  it('round-trips an empty payload and a chunk of a split message', () => {
    expect(decodeFrame(encodeFrame(frame({ payload: new Uint8Array(0) }))).payload).toHaveLength(0)
    const chunk = frame({ chunkIndex: 2, chunkCount: 3, messageLength: 10, payload: Uint8Array.from([9, 9]) })
    expect(decodeFrame(encodeFrame(chunk))).toEqual(chunk)
  })

  it('rejects every truncation of a valid frame with MalformedFrameError', () => {
    const bytes = encodeFrame(frame({ payload: new Uint8Array(300).fill(7) }))
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeFrame(bytes.subarray(0, length)), `prefix of ${length} bytes`).toThrow(
        MalformedFrameError,
      )
    }
  })

  it('rejects a payload length that overruns the frame, even inside a larger buffer', () => {
    const bytes = encodeFrame(frame({ payload: new Uint8Array(64) }))
    // lib0 would read past the view into the rest of the buffer: the decoder must not.
    const big = new Uint8Array(bytes.length + 100)
    big.set(bytes)
    expect(() => decodeFrame(big.subarray(0, bytes.length - 10))).toThrow(MalformedFrameError)
  })

  it('rejects trailing bytes, unknown versions and kinds, bad chunk fields', () => {
    const good = encodeFrame(frame())
    expect(() => decodeFrame(Uint8Array.from([...good, 0]))).toThrow(/trailing/)
    expect(() => decodeFrame(Uint8Array.from([2, ...good.subarray(1)]))).toThrow(/version/)
    const unknownKind = frame({ kind: 99 as FrameKind })
    expect(() => encodeFrame(unknownKind)).toThrow(MalformedFrameError)
    expect(() => encodeFrame(frame({ chunkIndex: 1, chunkCount: 1 }))).toThrow(/chunk index/)
    expect(() => encodeFrame(frame({ chunkCount: 0 }))).toThrow(/chunk count/)
    expect(() => encodeFrame(frame({ messageLength: 3 }))).toThrow(MalformedFrameError)
    expect(() => encodeFrame(frame({ libraryId: '' }))).toThrow(/library id/)
    expect(() => encodeFrame(frame({ libraryId: 'x'.repeat(257) }))).toThrow(/library id/)
  })

  it('rejects a frame whose payload exceeds the receiver limit', () => {
    const bytes = encodeFrame(frame({ payload: new Uint8Array(5000) }))
    expect(() => decodeFrame(bytes, { maxPayloadBytes: 4096 })).toThrow(MalformedFrameError)
  })

  it('turns garbage into MalformedFrameError and nothing else', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const bytes = pseudoRandomBytes(seed, seed % 200)
      try {
        decodeFrame(bytes)
      } catch (err) {
        expect(err, `seed ${seed}`).toBeInstanceOf(MalformedFrameError)
      }
    }
    // Invalid UTF-8 in the library id.
    expect(() => decodeFrame(Uint8Array.from([1, 2, 0xff, 0xfe, 2, 0, 1, 0, 0]))).toThrow(MalformedFrameError)
  })
})

describe('chunking', () => {
  const payload = pseudoRandomBytes(42, 5 * 1024 * 1024 + 123)

  it('splits a large message into bounded frames and reassembles it', () => {
    const frames = splitMessage({ libraryId: LIBRARY, kind: FrameKind.SyncStep2, payload }, 1024 * 1024)
    expect(frames).toHaveLength(6)
    const assembler = new MessageAssembler()
    const results = frames.map((f) => {
      const wire = encodeFrame(f)
      expect(wire.length).toBeLessThan(1024 * 1024 + 100)
      return assembler.push(decodeFrame(wire))
    })
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true)
    const message = results.at(-1)
    expect(message?.kind).toBe(FrameKind.SyncStep2)
    // toEqual on 5 MB arrays is slow; compare bytes directly.
    expect(Buffer.compare(message!.payload, payload)).toBe(0)
    expect(assembler.pendingBytes).toBe(0)
  })

  it('passes a small message straight through', () => {
    const [only] = splitMessage({ libraryId: LIBRARY, kind: FrameKind.Update, payload: Uint8Array.from([5]) })
    expect(new MessageAssembler().push(only!)).toEqual({
      libraryId: LIBRARY,
      kind: FrameKind.Update,
      payload: Uint8Array.from([5]),
    })
  })

  it('rejects chunks out of order, interleaved or not adding up', () => {
    const frames = splitMessage(
      { libraryId: LIBRARY, kind: FrameKind.Update, payload: new Uint8Array(30) },
      10,
    )
    expect(() => new MessageAssembler().push(frames[1]!)).toThrow(MalformedFrameError)

    const skipping = new MessageAssembler()
    skipping.push(frames[0]!)
    expect(() => skipping.push(frames[2]!)).toThrow(/expected chunk 1/)

    const interleaved = new MessageAssembler()
    interleaved.push(frames[0]!)
    expect(() => interleaved.push(frame())).toThrow(MalformedFrameError)

    const short = new MessageAssembler()
    short.push(frames[0]!)
    short.push(frames[1]!)
    expect(() => short.push({ ...frames[2]!, payload: new Uint8Array(5) })).toThrow(/add up/)
  })

  it('refuses a message over the size bound before buffering any of it', () => {
    const assembler = new MessageAssembler({ maxMessageBytes: 1000 })
    const first = frame({ chunkIndex: 0, chunkCount: 2, messageLength: 1001, payload: new Uint8Array(600) })
    expect(() => assembler.push(first)).toThrow(MessageTooLargeError)
    expect(assembler.pendingBytes).toBe(0)
    // The default bound is 512 MiB.
    const huge = frame({
      chunkIndex: 0,
      chunkCount: 600,
      messageLength: 513 * 1024 * 1024,
      payload: new Uint8Array(1),
    })
    expect(() => new MessageAssembler().push(decodeFrame(encodeFrame(huge)))).toThrow(MessageTooLargeError)
  })
})
