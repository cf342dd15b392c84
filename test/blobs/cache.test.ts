import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BlockCache,
  BlockMissingError,
  CacheClosedError,
  CorruptBlockError,
  InvalidContentIdError,
  ManifestMismatchError,
  ManifestMissingError,
  manifestOf,
} from '../../src/blobs/index.ts'

const BLOCK = 1024

let dir: string
const opened: BlockCache[] = []
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-'))
})
afterEach(async () => {
  for (const cache of opened.splice(0)) await cache.close()
  await fs.rm(dir, { recursive: true, force: true })
})

async function open(limitBytes?: number): Promise<BlockCache> {
  const cache = await BlockCache.open(dir, limitBytes === undefined ? {} : { limitBytes })
  opened.push(cache)
  return cache
}

function makeBlob(size: number) {
  const bytes = randomBytes(size)
  const { manifest, contentId } = manifestOf(bytes, BLOCK)
  const block = (i: number) => bytes.subarray(i * BLOCK, Math.min(size, (i + 1) * BLOCK))
  const blocks = Math.ceil(size / BLOCK)
  return { bytes, manifest, id: contentId, block, blocks }
}

async function store(cache: BlockCache, blob: ReturnType<typeof makeBlob>, only?: number[]) {
  await cache.putManifest(blob.id, blob.manifest)
  for (const i of only ?? Array.from({ length: blob.blocks }, (_, i) => i)) {
    await cache.writeBlock(blob.id, i, blob.block(i))
  }
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of iterable) parts.push(part)
  return Buffer.concat(parts)
}

function filesOf(id: string) {
  const shard = path.join(dir, 'blobs', id.slice(0, 2))
  return {
    shard,
    blob: path.join(shard, `${id}.blob`),
    partial: path.join(shard, `${id}.partial`),
    bitmap: path.join(shard, `${id}.bitmap`),
    manifest: path.join(shard, `${id}.manifest`),
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  )
}

/** Lets drops and other background commits finish (close() waits for them too). */
async function settle(cache: BlockCache): Promise<void> {
  await cache.close()
  opened.splice(opened.indexOf(cache), 1)
}

describe('writing and reading blocks', () => {
  it('stores blocks out of order, tracks what is missing, completes and reads back exact bytes', async () => {
    const cache = await open()
    const blob = makeBlob(5 * BLOCK + 300)
    await cache.putManifest(blob.id, blob.manifest)
    expect(cache.missingBlocks(blob.id)).toEqual([0, 1, 2, 3, 4, 5])
    for (const i of [5, 2, 0]) await cache.writeBlock(blob.id, i, blob.block(i))
    expect(cache.hasBlock(blob.id, 2)).toBe(true)
    expect(cache.hasBlock(blob.id, 3)).toBe(false)
    expect(cache.missingBlocks(blob.id)).toEqual([1, 3, 4])
    expect(cache.missingBlocks(blob.id, 2, 2)).toEqual([3])
    expect(cache.isComplete(blob.id)).toBe(false)
    expect(Buffer.from((await cache.readBlock(blob.id, 5))!)).toEqual(blob.block(5))
    expect(await cache.readBlock(blob.id, 3)).toBeUndefined()
    await expect(collect(cache.readRange(blob.id, 0, blob.bytes.length - 1))).rejects.toThrow(
      BlockMissingError,
    )

    for (const i of [1, 3, 4]) await cache.writeBlock(blob.id, i, blob.block(i))
    expect(cache.isComplete(blob.id)).toBe(true)
    expect(cache.missingBlocks(blob.id)).toEqual([])
    const files = filesOf(blob.id)
    expect(await exists(files.blob)).toBe(true)
    expect(await exists(files.partial)).toBe(false)
    expect(await exists(files.bitmap)).toBe(false)
    expect(await fs.readFile(files.blob)).toEqual(blob.bytes)

    const size = blob.bytes.length
    for (const [start, end] of [
      [0, size - 1],
      [0, 0],
      [size - 1, size - 1],
      [BLOCK - 1, BLOCK],
      [100, 4 * BLOCK + 7],
      [5 * BLOCK, size - 1],
    ] as const) {
      expect(await collect(cache.readRange(blob.id, start, end))).toEqual(blob.bytes.subarray(start, end + 1))
    }
    await expect(collect(cache.readRange(blob.id, 0, size))).rejects.toThrow(RangeError)
    expect(cache.blobInfo(blob.id)).toEqual({
      size,
      blockSize: BLOCK,
      blocks: 6,
      presentBlocks: 6,
      complete: true,
      pinned: false,
    })
    expect((await cache.getManifest(blob.id))?.blockHashes).toEqual(blob.manifest.blockHashes)
  })

  it('rejects a block that does not match the manifest and marks nothing', async () => {
    const cache = await open()
    const blob = makeBlob(3 * BLOCK)
    await cache.putManifest(blob.id, blob.manifest)
    const bad = Buffer.from(blob.block(1))
    bad[10]! ^= 1
    await expect(cache.writeBlock(blob.id, 1, bad)).rejects.toThrow(CorruptBlockError)
    await expect(cache.writeBlock(blob.id, 1, blob.block(2))).rejects.toThrow(CorruptBlockError)
    await expect(cache.writeBlock(blob.id, 1, blob.block(1).subarray(1))).rejects.toThrow(CorruptBlockError)
    expect(cache.hasBlock(blob.id, 1)).toBe(false)
    expect(await exists(filesOf(blob.id).partial)).toBe(false)
    expect(cache.usage().bytes).toBe((await fs.stat(filesOf(blob.id).manifest)).size)
  })

  it('needs a manifest that hashes to the ID, and a content ID', async () => {
    const cache = await open()
    const blob = makeBlob(2 * BLOCK)
    const other = makeBlob(2 * BLOCK)
    await expect(cache.writeBlock(blob.id, 0, blob.block(0))).rejects.toThrow(ManifestMissingError)
    expect(() => cache.missingBlocks(blob.id)).toThrow(ManifestMissingError)
    await expect(cache.putManifest(blob.id, other.manifest)).rejects.toThrow(ManifestMismatchError)
    await expect(cache.pin('../../etc/passwd')).rejects.toThrow(InvalidContentIdError)
    await cache.putManifest(blob.id, blob.manifest)
    await expect(cache.writeBlock(blob.id, 2, blob.block(0))).rejects.toThrow(RangeError)
  })

  it('detects a block corrupted on disk, drops it (never returns it) and takes it again', async () => {
    const cache = await open()
    const blob = makeBlob(4 * BLOCK)
    await store(cache, blob)
    const files = filesOf(blob.id)
    const handle = await fs.open(files.blob, 'r+')
    await handle.write(Buffer.from([0xff ^ blob.bytes[2 * BLOCK + 5]!]), 0, 1, 2 * BLOCK + 5)
    await handle.close()

    expect(await cache.readBlock(blob.id, 2)).toBeUndefined()
    expect(cache.hasBlock(blob.id, 2)).toBe(false)
    expect(cache.isComplete(blob.id)).toBe(false)
    expect(cache.missingBlocks(blob.id)).toEqual([2])
    expect(Buffer.from((await cache.readBlock(blob.id, 1))!)).toEqual(blob.block(1))
    await settle(cache)
    // The drop reached the disk: the blob is partial again, its bitmap without block 2.
    expect(await exists(files.blob)).toBe(false)
    expect(await exists(files.bitmap)).toBe(true)

    const again = await open()
    expect(again.missingBlocks(blob.id)).toEqual([2])
    await again.writeBlock(blob.id, 2, blob.block(2))
    expect(again.isComplete(blob.id)).toBe(true)
    expect(await collect(again.readRange(blob.id, 0, blob.bytes.length - 1))).toEqual(blob.bytes)
  })

  it('treats an empty blob as complete at once', async () => {
    const cache = await open()
    const blob = makeBlob(0)
    await cache.putManifest(blob.id, blob.manifest)
    expect(cache.isComplete(blob.id)).toBe(true)
    expect(cache.missingBlocks(blob.id)).toEqual([])
    await settle(cache)
    const again = await open()
    expect(again.isComplete(blob.id)).toBe(true)
  })

  it('honours abort signals and refuses calls after close', async () => {
    const cache = await open()
    const blob = makeBlob(2 * BLOCK)
    await store(cache, blob)
    const aborted = AbortSignal.abort()
    await expect(cache.readBlock(blob.id, 0, aborted)).rejects.toThrow(/abort/i)
    await expect(cache.writeBlock(blob.id, 0, blob.block(0), aborted)).rejects.toThrow(/abort/i)
    await expect(BlockCache.open(dir, { signal: aborted })).rejects.toThrow(/abort/i)
    await settle(cache)
    await expect(cache.readBlock(blob.id, 0)).rejects.toThrow(CacheClosedError)
  })
})

describe('concurrency', () => {
  it('lands concurrent writes of different blocks of one blob, and of the same block twice', async () => {
    const cache = await open()
    const blob = makeBlob(64 * BLOCK + 1)
    await cache.putManifest(blob.id, blob.manifest)
    const writes = []
    for (let i = 0; i < blob.blocks; i++) writes.push(cache.writeBlock(blob.id, i, blob.block(i)))
    writes.push(cache.writeBlock(blob.id, 7, blob.block(7)))
    await Promise.all(writes)
    expect(cache.isComplete(blob.id)).toBe(true)
    await settle(cache)
    const again = await open()
    expect(again.isComplete(blob.id)).toBe(true)
    expect(await collect(again.readRange(blob.id, 0, blob.bytes.length - 1))).toEqual(blob.bytes)
  })

  it('never returns a torn block to a read that races the write of that block', async () => {
    const cache = await open()
    const blob = makeBlob(32 * BLOCK)
    await cache.putManifest(blob.id, blob.manifest)
    const reads: Array<Promise<void>> = []
    const writes: Array<Promise<void>> = []
    for (let i = 0; i < blob.blocks; i++) {
      writes.push(cache.writeBlock(blob.id, i, blob.block(i)))
      for (let r = 0; r < 4; r++) {
        reads.push(
          (async () => {
            await new Promise((resolve) => setTimeout(resolve, r))
            const got = await cache.readBlock(blob.id, i)
            if (got) expect(Buffer.from(got)).toEqual(blob.block(i))
          })(),
        )
      }
    }
    await Promise.all([...writes, ...reads])
    expect(cache.isComplete(blob.id)).toBe(true)
  })
})

it('serves every good block while a dropped block turns the .blob back into a .partial', async () => {
  const cache = await open()
  const blob = makeBlob(16 * BLOCK)
  await store(cache, blob)
  const handle = await fs.open(filesOf(blob.id).blob, 'r+')
  await handle.write(Buffer.alloc(8), 0, 8, 3 * BLOCK)
  await handle.close()
  // Reads keep coming while the drop's commit renames the data file under them.
  for (let round = 0; round < 40; round++) {
    const reads = []
    for (let i = 0; i < blob.blocks; i++) reads.push(cache.readBlock(blob.id, i).then((got) => ({ i, got })))
    for (const { i, got } of await Promise.all(reads)) {
      if (i === 3) expect(got).toBeUndefined()
      else expect(got && Buffer.from(got).equals(blob.block(i)), `block ${i}`).toBe(true)
    }
  }
  // The drop's commit runs behind the reads (reads from the page cache may all be done before it).
  await vi.waitFor(async () => expect(await exists(filesOf(blob.id).partial)).toBe(true))
  const scrub = await cache.scrub()
  expect(scrub).toEqual({ checkedBlocks: 15, droppedBlocks: 0 })
  expect(cache.missingBlocks(blob.id)).toEqual([3])
})

describe('limit and LRU eviction', () => {
  it('evicts the least recently used unpinned blobs until under the limit', async () => {
    const probe = makeBlob(4 * BLOCK)
    const perBlob = 4 * BLOCK + (17 + 4 * 32) // data + manifest
    const cache = await open(3 * perBlob)
    const [a, b, c, d] = [probe, makeBlob(4 * BLOCK), makeBlob(4 * BLOCK), makeBlob(4 * BLOCK)]
    await store(cache, a)
    await store(cache, b)
    await store(cache, c)
    expect(cache.usage()).toMatchObject({ bytes: 3 * perBlob, blobs: 3, completeBlobs: 3, overLimit: false })
    expect(await cache.readBlock(a.id, 0)).toBeDefined() // a is now the most recent: b is the oldest
    await store(cache, d)
    expect(cache.isComplete(b.id)).toBe(false)
    expect(cache.blobInfo(b.id)).toBeUndefined()
    expect(await exists(filesOf(b.id).manifest)).toBe(false)
    expect([a, c, d].map((x) => cache.isComplete(x.id))).toEqual([true, true, true])
    expect(cache.usage().bytes).toBe(3 * perBlob)

    cache.touch(c.id)
    await cache.setLimit(2 * perBlob)
    expect(cache.blobInfo(a.id)).toBeUndefined()
    expect([c, d].map((x) => cache.isComplete(x.id))).toEqual([true, true])

    await cache.setLimit(0)
    expect(cache.usage()).toMatchObject({ bytes: 0, blobs: 0 })
  })

  it('evicts partial blobs too, and reports what it freed', async () => {
    const cache = await open(1 << 30)
    const a = makeBlob(8 * BLOCK)
    const b = makeBlob(8 * BLOCK)
    await store(cache, a, [0, 1, 2])
    await store(cache, b, [5])
    await cache.setLimit(cache.usage().bytes - 1)
    expect(cache.blobInfo(a.id)).toBeUndefined()
    expect(cache.hasBlock(b.id, 5)).toBe(true)
    await cache.setLimit(1 << 30)
    const before = cache.usage().bytes
    await cache.setLimit(0)
    expect(cache.usage().bytes).toBe(0)
    await cache.setLimit(1 << 30)
    expect(await cache.evict()).toEqual({ evicted: [], freedBytes: 0 })
    expect(before).toBeGreaterThan(BLOCK)
  })

  it('keeps LRU order across a restart', async () => {
    const blobs = [makeBlob(2 * BLOCK), makeBlob(2 * BLOCK), makeBlob(2 * BLOCK)]
    const cache = await open()
    for (const blob of blobs) await store(cache, blob)
    await cache.readBlock(blobs[0]!.id, 1) // order now: 1, 2, 0
    await settle(cache)

    const perBlob = cache.usage().bytes / 3
    const again = await open(2 * perBlob)
    expect(again.blobInfo(blobs[1]!.id)).toBeUndefined()
    expect(again.isComplete(blobs[2]!.id)).toBe(true)
    expect(again.isComplete(blobs[0]!.id)).toBe(true)
    await again.setLimit(perBlob)
    expect(again.blobInfo(blobs[2]!.id)).toBeUndefined()
    expect(again.isComplete(blobs[0]!.id)).toBe(true)
  })
})

describe('pins', () => {
  it('never evicts pinned blobs, and keeps pins across a restart', async () => {
    const a = makeBlob(4 * BLOCK)
    const b = makeBlob(4 * BLOCK)
    const c = makeBlob(2 * BLOCK + 10)
    const cache = await open(1 << 30)
    await store(cache, a)
    await cache.pin(a.id, 'Album A')
    await store(cache, b)
    await cache.pin(c.id) // pinned before any of it is here
    expect(cache.pins()).toEqual([
      { contentId: a.id, label: 'Album A', complete: true, bytes: 4 * BLOCK, size: 4 * BLOCK },
      { contentId: c.id, complete: false, bytes: 0, size: undefined },
    ])
    expect(cache.pinTotals()).toEqual([
      { label: 'Album A', blobs: 1, complete: 1, bytes: 4 * BLOCK },
      { label: 'pinned', blobs: 1, complete: 0, bytes: 0 },
    ])
    await cache.setLimit(0)
    expect(cache.isComplete(a.id)).toBe(true)
    expect(cache.blobInfo(b.id)).toBeUndefined()
    await store(cache, c, [1])
    expect(cache.hasBlock(c.id, 1)).toBe(true)
    expect(cache.usage()).toMatchObject({ overLimit: true, limitBytes: 0 })
    expect(cache.usage().pinnedBytes).toBe(cache.usage().bytes)
    await settle(cache)

    const again = await open(0)
    expect(again.isPinned(a.id)).toBe(true)
    expect(again.isPinned(c.id)).toBe(true)
    expect(again.isComplete(a.id)).toBe(true)
    expect(again.hasBlock(c.id, 1)).toBe(true)
    expect(again.pins().map((p) => [p.contentId, p.label, p.bytes, p.size])).toEqual([
      [a.id, 'Album A', 4 * BLOCK, 4 * BLOCK],
      [c.id, undefined, BLOCK, 2 * BLOCK + 10],
    ])
    expect(again.pinTotals()).toEqual([
      { label: 'Album A', blobs: 1, complete: 1, bytes: 4 * BLOCK },
      { label: 'pinned', blobs: 1, complete: 0, bytes: BLOCK },
    ])
    await again.unpin(c.id)
    expect(again.blobInfo(c.id)).toBeUndefined() // evicted at once: over the limit and no longer pinned
    expect(again.isComplete(a.id)).toBe(true)
  })

  it('does not thrash when pins alone exceed the limit', async () => {
    const pinned = makeBlob(8 * BLOCK)
    const cache = await open(BLOCK)
    await cache.pin(pinned.id, 'big')
    await store(cache, pinned)
    const x = makeBlob(2 * BLOCK)
    const y = makeBlob(2 * BLOCK)
    // The blob being written stays while it is written (it is the one being played) ...
    await store(cache, x)
    expect(cache.isComplete(x.id)).toBe(true)
    // ... and goes once another one is written, or when asked.
    await store(cache, y)
    expect(cache.blobInfo(x.id)).toBeUndefined()
    expect(cache.isComplete(y.id)).toBe(true)
    expect((await cache.evict()).evicted).toEqual([y.id])
    expect(await cache.evict()).toEqual({ evicted: [], freedBytes: 0 })
    const usage = cache.usage()
    expect(usage.pinnedBytes).toBeGreaterThan(usage.limitBytes)
    expect(usage).toMatchObject({ overLimit: true, blobs: 1, completeBlobs: 1 })
  })

  it('puts an unpinned blob back in its place by last use', async () => {
    const blobs = [makeBlob(BLOCK), makeBlob(BLOCK), makeBlob(BLOCK)]
    const cache = await open()
    for (const blob of blobs) await store(cache, blob)
    await cache.pin(blobs[0]!.id)
    cache.touch(blobs[1]!.id)
    await cache.unpin(blobs[0]!.id) // least recently used again
    const perBlob = cache.usage().bytes / 3
    await cache.setLimit(2 * perBlob)
    expect(cache.blobInfo(blobs[0]!.id)).toBeUndefined()
  })

  it('removes a blob on request but keeps its pin', async () => {
    const cache = await open()
    const blob = makeBlob(2 * BLOCK)
    await store(cache, blob)
    await cache.pin(blob.id)
    await cache.remove(blob.id)
    expect(cache.blobInfo(blob.id)).toBeUndefined()
    expect(cache.isPinned(blob.id)).toBe(true)
    expect(await fs.readdir(filesOf(blob.id).shard)).toEqual([])
  })
})
