import type { Libp2p, Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  encodeLengthPrefix,
  MessageTooLongError,
  readMessages,
  TruncatedMessageError,
  waitForDrain,
  writeMessage,
} from '../../src/node/protocols/stream-io.ts'
import { connect, createTestNode } from '../helpers/libp2p.ts'

function message(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

async function collect(stream: Stream, options: Parameters<typeof readMessages>[1]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const m of readMessages(stream, options)) out.push(m)
  return out
}

describe('length prefix', () => {
  it('encodes unsigned varints', () => {
    expect([...encodeLengthPrefix(0)]).toEqual([0])
    expect([...encodeLengthPrefix(127)]).toEqual([127])
    expect([...encodeLengthPrefix(128)]).toEqual([0x80, 1])
    expect([...encodeLengthPrefix(300)]).toEqual([0xac, 0x02])
    expect(() => encodeLengthPrefix(-1)).toThrow(RangeError)
  })
})

describe('stream-io over a mock stream pair', () => {
  it('round-trips messages of many sizes, in order', async () => {
    const [outbound, inbound] = await streamPair()
    const sizes = [0, 1, 127, 128, 300, 65_535, 300_000, 3 * 1024 * 1024]
    const received = collect(inbound, { maxMessageLength: 4 * 1024 * 1024 })
    for (const [i, size] of sizes.entries()) await writeMessage(outbound, message(size, i))
    await outbound.close()
    const messages = await received
    expect(messages.map((m) => m.length)).toEqual(sizes)
    for (const [i, m] of messages.entries()) expect(Buffer.compare(m, message(sizes[i]!, i))).toBe(0)
  })

  it('fails on a message longer than allowed', async () => {
    const [outbound, inbound] = await streamPair()
    const received = collect(inbound, { maxMessageLength: 1000 })
    await writeMessage(outbound, message(1001, 0))
    await expect(received).rejects.toThrow(MessageTooLongError)
  })

  it('fails when the stream ends mid-message', async () => {
    const [outbound, inbound] = await streamPair()
    const received = collect(inbound, { maxMessageLength: 1000 })
    outbound.send(Uint8Array.from([...encodeLengthPrefix(10), 1, 2, 3]))
    await outbound.close()
    await expect(received).rejects.toThrow(TruncatedMessageError)
  })

  it('stops with the signal reason on abort', async () => {
    const [, inbound] = await streamPair()
    const controller = new AbortController()
    const received = collect(inbound, { maxMessageLength: 1000, signal: controller.signal })
    controller.abort(new Error('enough'))
    await expect(received).rejects.toThrow('enough')
  })

  it('fails with the reset error when the remote aborts', async () => {
    const [outbound, inbound] = await streamPair()
    const received = collect(inbound, { maxMessageLength: 1000 })
    await writeMessage(outbound, message(10, 0))
    outbound.abort(new Error('bye'))
    await expect(received).rejects.toThrow()
  })
})

describe('stream-io over yamux (memory transport)', () => {
  let a: Libp2p
  let b: Libp2p
  const PROTOCOL = '/cloudless/test-stream-io/1.0.0'
  let inboundStreams: Stream[] = []

  beforeAll(async () => {
    a = await createTestNode({ transport: 'memory' })
    b = await createTestNode({ transport: 'memory' })
    await b.handle(PROTOCOL, (stream) => {
      inboundStreams.push(stream)
    })
    await connect(a, b)
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('applies backpressure both ways without losing or reordering messages', async () => {
    inboundStreams = []
    const outbound = await a.dialProtocol(b.peerId, PROTOCOL)
    const deadline = Date.now() + 5000
    while (inboundStreams.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    const inbound = inboundStreams[0]!
    const pauses = vi.spyOn(inbound, 'pause')
    const count = 64
    const size = 512 * 1024
    let drainsWaited = 0
    // A slow consumer: the reader pauses the stream, yamux stops granting window, send() returns false.
    const received = (async () => {
      let index = 0
      for await (const m of readMessages(inbound, {
        maxMessageLength: 1024 * 1024,
        highWaterMark: 2 * 1024 * 1024,
      })) {
        expect(m[0]).toBe(message(size, index)[0])
        expect(m.length).toBe(size)
        index++
        if (index % 8 === 0) await new Promise((r) => setTimeout(r, 20))
      }
      return index
    })()
    for (let i = 0; i < count; i++) {
      const mustWait = outbound.writableNeedsDrain
      await writeMessage(outbound, message(size, i))
      if (mustWait) drainsWaited++
      // The stream's own buffer stays bounded (a message or two, not all 32 MB): we waited for drains.
      expect(outbound.writeBufferLength).toBeLessThanOrEqual(3 * size)
    }
    await outbound.close()
    expect(await received).toBe(count)
    expect(drainsWaited).toBeGreaterThan(0)
    expect(pauses).toHaveBeenCalled()
  })

  it('waitForDrain resolves at once on a writable stream and rejects on a closed one', async () => {
    inboundStreams = []
    const outbound = await a.dialProtocol(b.peerId, PROTOCOL)
    await waitForDrain(outbound)
    outbound.abort(new Error('gone'))
    // A closed stream no longer needs draining: writing to it throws instead.
    await expect(writeMessage(outbound, message(10, 0))).rejects.toThrow()
  })
})
