import { randomBytes } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BLOCK_SIZE, blockCount, type Manifest, manifestOf } from '../../src/blobs/index.ts'
import {
  type BlobExchange,
  type BlobProvider,
  blobExchange,
  type ServedBlob,
} from '../../src/node/protocols/blob/index.ts'
import { connect, createTestNode } from '../helpers/libp2p.ts'

/**
 * Figures, printed rather than asserted (timings vary by machine): a 100 MB download between two
 * nodes over TCP on 127.0.0.1, and the time to the first block of a player's small range request.
 */

const SIZE = 100 * 1024 * 1024

class OneBlobProvider implements BlobProvider {
  readonly contentId: string
  readonly manifest: Manifest
  readonly bytes: Uint8Array

  constructor(bytes: Uint8Array) {
    this.bytes = bytes
    const { contentId, manifest } = manifestOf(bytes)
    this.contentId = contentId
    this.manifest = manifest
  }

  async open(contentId: string): Promise<ServedBlob | undefined> {
    if (contentId !== this.contentId) return undefined
    const { manifest, bytes } = this
    return {
      manifest,
      readBlock: async (index) =>
        bytes.subarray(index * BLOCK_SIZE, Math.min((index + 1) * BLOCK_SIZE, bytes.length)),
      close: async () => {},
    }
  }
}

describe('blob exchange figures (TCP on loopback)', () => {
  let server: Libp2p<{ blobs: BlobExchange }>
  let client: Libp2p<{ blobs: BlobExchange }>
  let provider: OneBlobProvider

  beforeAll(async () => {
    provider = new OneBlobProvider(randomBytes(SIZE))
    const members = new Set<string>()
    const isMember = (peerId: string) => members.has(peerId)
    server = await createTestNode({
      transport: 'tcp',
      services: { blobs: blobExchange({ isMember, provider }) },
    })
    client = await createTestNode({
      transport: 'tcp',
      services: { blobs: blobExchange({ isMember, provider: { open: async () => undefined } }) },
    })
    members.add(server.peerId.toString())
    members.add(client.peerId.toString())
    await connect(client, server)
  })

  afterAll(async () => {
    await Promise.all([client?.stop(), server?.stop()])
  })

  it('downloads 100 MB, every block verified', async () => {
    const { contentId, bytes } = provider
    const blobs = client.services.blobs
    const rates: number[] = []
    for (let run = 0; run < 3; run++) {
      const started = performance.now()
      const manifest = await blobs.fetchManifest(server.peerId, contentId)
      const total = blockCount(manifest.size, manifest.blockSize)
      let received = 0
      let next = 0
      for await (const block of blobs.fetchBlocks(server.peerId, contentId, manifest, 0, total)) {
        expect(block.index).toBe(next++)
        received += block.bytes.length
      }
      const seconds = (performance.now() - started) / 1000
      expect(received).toBe(bytes.length)
      rates.push(SIZE / 1024 / 1024 / seconds)
    }
    console.log(
      `blob exchange: 100 MB over TCP on loopback at ${rates.map((rate) => rate.toFixed(0)).join(', ')} MB/s (3 runs, manifest included, every block verified)`,
    )
  })

  it('delivers the first block of a small range request quickly', async () => {
    const { contentId, manifest } = provider
    const blobs = client.services.blobs
    const times: number[] = []
    for (let run = 0; run < 30; run++) {
      const first = 40 + run * 4
      const started = performance.now()
      let firstAt = 0
      let count = 0
      for await (const _ of blobs.fetchBlocks(server.peerId, contentId, manifest, first, 4)) {
        if (count++ === 0) firstAt = performance.now() - started
      }
      expect(count).toBe(4)
      times.push(firstAt)
    }
    const sorted = [...times].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)]!
    console.log(
      `blob exchange: first block of a 4-block range request (new stream each) in ${median.toFixed(2)} ms median, ${sorted[0]!.toFixed(2)}-${sorted.at(-1)!.toFixed(2)} ms over ${times.length} requests`,
    )
  })
})
