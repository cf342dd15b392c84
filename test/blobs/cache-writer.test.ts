import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { BlockCache, CacheClosedError, CorruptBlockError, manifestOf } from '../../src/blobs/index.ts'

// BlockCache.writer: many blocks through one open data file, marked present a run at a time.

const BLOCK = 1024

let dir: string
const opened: BlockCache[] = []
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-writer-'))
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

function makeBlob(blocks: number) {
  const bytes = randomBytes(blocks * BLOCK - 10)
  const { manifest, contentId } = manifestOf(bytes, BLOCK)
  const block = (i: number) => bytes.subarray(i * BLOCK, Math.min(bytes.length, (i + 1) * BLOCK))
  const file = (kind: string) => path.join(dir, 'blobs', contentId.slice(0, 2), `${contentId}.${kind}`)
  return { bytes, manifest, id: contentId, block, blocks, file }
}

function present(cache: BlockCache, blob: ReturnType<typeof makeBlob>): number[] {
  return Array.from({ length: blob.blocks }, (_, i) => i).filter((i) => cache.hasBlock(blob.id, i))
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  )
}

it('marks written blocks present only at commit, and completes the blob on the last one', async () => {
  const cache = await open()
  const blob = makeBlob(5)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  await writer.write(0, blob.block(0))
  await writer.write(1, blob.block(1))
  expect(present(cache, blob)).toEqual([])
  await writer.commit()
  expect(present(cache, blob)).toEqual([0, 1])
  expect(await exists(blob.file('bitmap'))).toBe(true)
  for (const i of [2, 3, 4]) await writer.write(i, blob.block(i))
  expect(cache.isComplete(blob.id)).toBe(false)
  await writer.close()
  expect(cache.isComplete(blob.id)).toBe(true)
  expect(await exists(blob.file('blob'))).toBe(true)
  expect(await exists(blob.file('partial'))).toBe(false)
  expect(await exists(blob.file('bitmap'))).toBe(false)
  expect(Buffer.compare(await fs.readFile(blob.file('blob')), blob.bytes)).toBe(0)
  for (let i = 0; i < blob.blocks; i++) {
    expect(Buffer.from((await cache.readBlock(blob.id, i))!).equals(blob.block(i))).toBe(true)
  }
  await expect(writer.write(0, blob.block(0))).rejects.toThrow(CacheClosedError)
})

it('rejects a block that does not match the manifest and writes nothing for it', async () => {
  const cache = await open()
  const blob = makeBlob(3)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  await expect(writer.write(1, randomBytes(BLOCK))).rejects.toThrow(CorruptBlockError)
  await writer.write(0, blob.block(0))
  await writer.close()
  expect(present(cache, blob)).toEqual([0])
})

it('a crash after writes but before their commit: only committed blocks are present', async () => {
  const first = await open()
  const blob = makeBlob(6)
  await first.putManifest(blob.id, blob.manifest)
  const writer = first.writer(blob.id)
  await writer.write(0, blob.block(0))
  await writer.write(1, blob.block(1))
  await writer.commit()
  await writer.write(2, blob.block(2))
  // The process dies here: a second cache on the same folder sees what the disk holds.
  const second = await BlockCache.open(dir)
  opened.push(second)
  expect(second.openReport.bitmapsRebuilt).toBe(0)
  expect(present(second, blob)).toEqual([0, 1])
  for (const i of [0, 1]) {
    expect(Buffer.from((await second.readBlock(blob.id, i))!).equals(blob.block(i))).toBe(true)
  }
})

it('does not evict a blob while a writer holds it', async () => {
  const cache = await open(0)
  const blob = makeBlob(4)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  await writer.write(0, blob.block(0))
  await writer.commit()
  await cache.evict()
  expect(present(cache, blob)).toEqual([0])
  await writer.write(1, blob.block(1))
  await writer.close()
  await cache.evict()
  expect(cache.blobInfo(blob.id)).toBeUndefined()
})

it('lets a writer and single writes share a blob, each block landing once', async () => {
  const cache = await open()
  const blob = makeBlob(4)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  await Promise.all([
    writer.write(0, blob.block(0)),
    cache.writeBlock(blob.id, 0, blob.block(0)),
    cache.writeBlock(blob.id, 1, blob.block(1)),
    writer.write(2, blob.block(2)),
  ])
  await writer.write(3, blob.block(3))
  await writer.close()
  expect(cache.isComplete(blob.id)).toBe(true)
  expect(Buffer.compare(await fs.readFile(blob.file('blob')), blob.bytes)).toBe(0)
  expect(cache.usage().bytes).toBe(blob.bytes.length + (await fs.stat(blob.file('manifest'))).size)
})

it('writeUnverified: verifies and writes blocks in the write thread; a blob completes byte for byte', async () => {
  const cache = await open()
  const blob = makeBlob(5)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  // Copies of the blocks, as received: the writer takes them (their memory moves to the thread).
  const copies = Array.from({ length: blob.blocks }, (_, i) => Uint8Array.from(blob.block(i)))
  for (const [i, copy] of copies.entries()) await writer.writeUnverified(i, copy)
  await writer.close()
  expect(copies.map((copy) => copy.length)).toEqual(copies.map(() => 0))
  expect(cache.isComplete(blob.id)).toBe(true)
  expect(Buffer.compare(await fs.readFile(blob.file('blob')), blob.bytes)).toBe(0)
})

it('writeUnverified: a block that fails its hash fails the writer at commit and is never marked present', async () => {
  const cache = await open()
  const blob = makeBlob(4)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  await writer.writeUnverified(0, Uint8Array.from(blob.block(0)))
  await writer.commit()
  const damaged = Uint8Array.from(blob.block(1))
  damaged[7]! ^= 0x01
  await writer.writeUnverified(1, damaged)
  await expect(writer.commit()).rejects.toThrow(CorruptBlockError)
  // Reported once it is known, by every later call too.
  await expect(writer.writeUnverified(2, Uint8Array.from(blob.block(2)))).rejects.toThrow(CorruptBlockError)
  await expect(writer.close()).rejects.toThrow(CorruptBlockError)
  expect(present(cache, blob)).toEqual([0])
  // A block of the wrong length is refused at once.
  const again = cache.writer(blob.id)
  await expect(again.writeUnverified(3, new Uint8Array(5))).rejects.toThrow(CorruptBlockError)
  await again.close()
  expect(present(cache, blob)).toEqual([0])
})
