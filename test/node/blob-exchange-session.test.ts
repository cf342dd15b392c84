import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { BLOCK_SIZE, blockCount, type Manifest } from '../../src/blobs/index.ts'
import { SESSION_IN_FLIGHT_BYTES } from '../../src/node/protocols/blob/constants.ts'
import {
  BlobExpectationError,
  BlobNotFoundError,
  BlobSessionClosedError,
  BlobSessionEndedError,
  BlockVerificationError,
} from '../../src/node/protocols/blob/index.ts'
import { waitFor } from '../helpers/libp2p.ts'
import { blobStreams, blockOf, pair } from './blob-exchange-helpers.ts'

/** Fetches a whole blob on `session` as a mirror does: manifest, then every block. */
async function fetchWhole(
  session: Awaited<ReturnType<import('../../src/node/protocols/blob/index.ts').BlobExchange['openSession']>>,
  contentId: string,
): Promise<{ manifest: Manifest; bytes: Buffer }> {
  const manifest = await session.manifest(contentId)
  const parts: Uint8Array[] = []
  let next = 0
  await session.blocks(contentId, manifest, 0, blockCount(manifest.size, manifest.blockSize), (block) => {
    expect(block.index).toBe(next++)
    parts.push(block.bytes)
  })
  return { manifest, bytes: Buffer.concat(parts) }
}

describe('blob sessions: many requests pipelined on one stream', () => {
  it('fetches many blobs at once over a single stream, byte for byte', async () => {
    const [server, client] = await pair()
    const blobs = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 37_000))
    // One blob larger than a wire request may ask for (1024 blocks) is split into several requests.
    blobs.push(randomBytes(1030 * 1024 + 5))
    const ids = blobs.map((bytes) => server.provider.add(bytes).contentId)
    const session = await client.blobs.openSession(server.id)
    let streamsSeen = 0
    const results = await Promise.all(
      ids.map(async (id) => {
        streamsSeen = Math.max(streamsSeen, blobStreams(server, client).length)
        return fetchWhole(session, id)
      }),
    )
    await session.close()
    for (const [i, result] of results.entries()) expect(result.bytes.equals(blobs[i]!)).toBe(true)
    expect(streamsSeen).toBe(1)
    expect(session.closed).toBe(true)
    await expect(session.manifest(ids[0]!)).rejects.toThrow(BlobSessionClosedError)
    await waitFor(() => server.blobs.activeTransfers === 0)
  })

  it('opens each blob once for its manifest and its blocks, with other blobs asked for in between', async () => {
    const [server, client] = await pair()
    const blobs = Array.from({ length: 30 }, (_, i) => randomBytes(5000 + i * 11_000))
    const ids = blobs.map((bytes) => server.provider.add(bytes).contentId)
    const session = await client.blobs.openSession(server.id)
    const results = await Promise.all(ids.map((id) => fetchWhole(session, id)))
    await session.close()
    for (const [i, result] of results.entries()) expect(result.bytes.equals(blobs[i]!)).toBe(true)
    await waitFor(() => server.blobs.activeTransfers === 0)
    // Kept open between requests (up to 32 per stream), and every one closed at the end.
    expect(server.provider.opened).toBe(ids.length)
    expect(server.provider.closed).toBe(ids.length)
  })

  it('asks for a manifest and its blocks together, and hands over the manifest before the first block', async () => {
    const [server, client] = await pair()
    const blobs = [0, 1, BLOCK_SIZE, 3 * BLOCK_SIZE + 17].map((n) => randomBytes(n))
    const ids = blobs.map((bytes) => server.provider.add(bytes).contentId)
    const session = await client.blobs.openSession(server.id)
    const results = await Promise.all(
      ids.map(async (id, i) => {
        const events: string[] = []
        const parts: Uint8Array[] = []
        const manifest = await session.manifestAndBlocks(
          id,
          { size: blobs[i]!.length, blockSize: BLOCK_SIZE },
          async (m) => {
            await new Promise((r) => setTimeout(r, 5))
            events.push(`manifest ${m.size}`)
          },
          (block) => {
            events.push(`block ${block.index}`)
            parts.push(block.bytes)
          },
        )
        return { manifest, events, bytes: Buffer.concat(parts) }
      }),
    )
    await session.close()
    for (const [i, result] of results.entries()) {
      expect(result.bytes.equals(blobs[i]!)).toBe(true)
      expect(result.manifest.size).toBe(blobs[i]!.length)
      const blocks = blockCount(blobs[i]!.length, BLOCK_SIZE)
      expect(result.events).toEqual([
        `manifest ${blobs[i]!.length}`,
        ...Array.from({ length: blocks }, (_, b) => `block ${b}`),
      ])
    }
    // One stream, and each blob opened once for both of its requests.
    expect(server.provider.opened).toBe(ids.length)
  })

  it('drops the blocks asked for on a size the manifest does not confirm, and the session goes on', async () => {
    const [server, client] = await pair()
    const bytes = randomBytes(3 * BLOCK_SIZE)
    const id = server.provider.add(bytes).contentId
    const session = await client.blobs.openSession(server.id)
    const stored: Manifest[] = []
    const received: number[] = []
    await expect(
      session.manifestAndBlocks(
        id,
        { size: 2 * BLOCK_SIZE + 5, blockSize: BLOCK_SIZE },
        (m) => {
          stored.push(m)
        },
        (block) => {
          received.push(block.index)
        },
      ),
    ).rejects.toThrow(BlobExpectationError)
    expect(stored.map((m) => m.size)).toEqual([bytes.length])
    expect(received).toEqual([])
    // The session is fine: the blocks, asked for with the real manifest.
    const again = await fetchWhole(session, id)
    expect(again.bytes.equals(bytes)).toBe(true)
    await session.close()
  })

  it('says the manifest contradicted the size when blocks were asked for beyond the blob', async () => {
    const [server, client] = await pair()
    const bytes = randomBytes(BLOCK_SIZE + 10)
    const id = server.provider.add(bytes).contentId
    const session = await client.blobs.openSession(server.id)
    await expect(
      session.manifestAndBlocks(
        id,
        { size: 3 * BLOCK_SIZE, blockSize: BLOCK_SIZE },
        () => {},
        () => {},
      ),
    ).rejects.toThrow(BlobExpectationError)
    // The server ended the session (its answer to blocks out of range): a new one serves the blob.
    const again = await client.blobs.openSession(server.id)
    expect((await fetchWhole(again, id)).bytes.equals(bytes)).toBe(true)
    await again.close()
  })

  it('fails the call a consumer refused, and goes on with the next calls', async () => {
    const [server, client] = await pair()
    const a = randomBytes(5 * BLOCK_SIZE)
    const b = randomBytes(3 * BLOCK_SIZE)
    const idA = server.provider.add(a)
    const idB = server.provider.add(b)
    const session = await client.blobs.openSession(server.id)
    const refused = session.blocks(idA.contentId, idA.manifest, 0, 5, (block) => {
      if (block.index === 1) throw new Error('disk full')
    })
    const received: number[] = []
    const after = session.blocks(idB.contentId, idB.manifest, 0, 3, (block) => {
      received.push(block.index)
    })
    await expect(refused).rejects.toThrow('disk full')
    await after
    expect(received).toEqual([0, 1, 2])
    await session.close()
  })

  it('an error answer fails its call with the named error and the calls behind it as ended', async () => {
    const [server, client] = await pair()
    const known = server.provider.add(randomBytes(2 * BLOCK_SIZE))
    const session = await client.blobs.openSession(server.id)
    const first = session.blocks(known.contentId, known.manifest, 0, 2, () => {})
    const missing = session.manifest('a'.repeat(52))
    const behind = session.blocks(known.contentId, known.manifest, 0, 2, () => {})
    await first
    await expect(missing).rejects.toThrow(BlobNotFoundError)
    await expect(behind).rejects.toThrow(BlobSessionEndedError)
    expect(session.closed).toBe(true)
    await session.close()
  })

  it('never passes on a block that fails its hash', async () => {
    const [server, client] = await pair()
    const bytes = randomBytes(4 * BLOCK_SIZE)
    const { contentId, manifest } = server.provider.add(bytes)
    server.provider.corrupt.add(2)
    const session = await client.blobs.openSession(server.id)
    const received: number[] = []
    const call = session.blocks(contentId, manifest, 0, 4, (block) => {
      expect(Buffer.from(block.bytes).equals(blockOf(bytes, block.index))).toBe(true)
      received.push(block.index)
    })
    await expect(call).rejects.toThrow(BlockVerificationError)
    expect(received).toEqual([0, 1])
    await session.close()
  })

  it('leaves verification to a consumer that verifies, and ends the session when it finds a bad block', async () => {
    const [server, client] = await pair()
    const bytes = randomBytes(4 * BLOCK_SIZE)
    const { contentId, manifest } = server.provider.add(bytes)
    server.provider.corrupt.add(2)
    const other = server.provider.add(randomBytes(2 * BLOCK_SIZE))
    const session = await client.blobs.openSession(server.id)
    const received: number[] = []
    let bad: number | undefined
    const call = session.manifestAndBlocks(
      contentId,
      { size: manifest.size, blockSize: manifest.blockSize },
      () => {},
      (block) => {
        // The consumer (the cache's write thread, in a mirror) hashes what the session did not,
        // and learns of a bad block later, with the next one.
        received.push(block.index)
        if (bad !== undefined) throw new BlockVerificationError(`block ${bad} does not match`, bad)
        if (!Buffer.from(block.bytes).equals(blockOf(bytes, block.index))) bad = block.index
      },
      { consumerVerifies: true },
    )
    // A call pipelined behind it on the same session fails with it.
    const behind = session.blocks(other.contentId, other.manifest, 0, 2, () => {})
    await expect(call).rejects.toThrow(BlockVerificationError)
    await expect(behind).rejects.toThrow(BlockVerificationError)
    expect(received).toEqual([0, 1, 2, 3])
    expect(session.closed).toBe(true)
  })

  it('aborting the signal resets the stream and stops the server', async () => {
    const [server, client] = await pair()
    const { contentId, manifest } = server.provider.add(randomBytes(200 * BLOCK_SIZE))
    const controller = new AbortController()
    const session = await client.blobs.openSession(server.id, { signal: controller.signal })
    let received = 0
    const call = session.blocks(contentId, manifest, 0, 200, async () => {
      received++
      // A slow consumer, so that the abort comes mid-transfer.
      await new Promise((resolve) => setTimeout(resolve, 5))
    })
    await waitFor(() => received >= 3)
    controller.abort(new Error('the user left'))
    await expect(call).rejects.toThrow('the user left')
    await waitFor(() => server.blobs.activeTransfers === 0)
    expect(server.provider.reads.length).toBeLessThan(200)
  })

  it('asks for no more than its in-flight limit ahead of a slow consumer', async () => {
    const [server, client] = await pair()
    const total = 300
    const { contentId, manifest } = server.provider.add(randomBytes(total * BLOCK_SIZE))
    const session = await client.blobs.openSession(server.id)
    let consumed = 0
    let aheadWhileStalled = 0
    await session.blocks(contentId, manifest, 0, total, async (block) => {
      consumed++
      if (block.index === 1) {
        await new Promise((resolve) => setTimeout(resolve, 1000))
        aheadWhileStalled = server.provider.reads.length - consumed
      }
    })
    await session.close()
    expect(consumed).toBe(total)
    // What was asked for (SESSION_IN_FLIGHT_BYTES), and nothing past it: far below the 300 blocks.
    expect(aheadWhileStalled).toBeLessThanOrEqual(SESSION_IN_FLIGHT_BYTES / BLOCK_SIZE)
  })
})
