import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import type { DataHandle } from '../../src/blobs/cache/file-io.ts'
import { BlockCache, DiskFullError, manifestOf } from '../../src/blobs/index.ts'

// A full disk, simulated by stubbing the cache's file writes: a data write fails with ENOSPC after
// writing half its bytes (as a real one can), or an atomic replace (bitmap, manifest, pins) fails.
const disk = vi.hoisted(() => ({ failDataWrites: false, failReplaces: false }))

vi.mock('../../src/blobs/cache/file-io.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/blobs/cache/file-io.ts')>()
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  return {
    ...real,
    writeAt: async (handle: DataHandle, bytes: Uint8Array, offset: number) => {
      if (!disk.failDataWrites) return real.writeAt(handle, bytes, offset)
      await real.writeAt(handle, bytes.subarray(0, bytes.length >> 1), offset)
      throw enospc()
    },
    replaceFile: async (target: string, data: Uint8Array | string, signal?: AbortSignal) => {
      if (disk.failReplaces) throw enospc()
      return real.replaceFile(target, data, signal)
    },
    writeCheckedFileNow: (target: string, data: Uint8Array) => {
      if (disk.failReplaces) throw enospc()
      real.writeCheckedFileNow(target, data)
    },
  }
})

const BLOCK = 1024

let dir: string
let cache: BlockCache
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-full-'))
  cache = await BlockCache.open(dir)
  disk.failDataWrites = false
  disk.failReplaces = false
})
afterEach(async () => {
  await cache.close()
  await fs.rm(dir, { recursive: true, force: true })
})

function makeBlob(blocks: number) {
  const bytes = randomBytes(blocks * BLOCK)
  const { manifest, contentId } = manifestOf(bytes, BLOCK)
  return { manifest, id: contentId, block: (i: number) => bytes.subarray(i * BLOCK, (i + 1) * BLOCK) }
}

it('a data write that hits a full disk fails clearly, marks nothing, and the cache goes on', async () => {
  const blob = makeBlob(4)
  await cache.putManifest(blob.id, blob.manifest)
  await cache.writeBlock(blob.id, 0, blob.block(0))
  const before = cache.usage()
  disk.failDataWrites = true
  const failed = cache.writeBlock(blob.id, 1, blob.block(1))
  await expect(failed).rejects.toThrow(DiskFullError)
  await expect(failed).rejects.toThrow(/disk full while writing block 1/)
  expect(cache.hasBlock(blob.id, 1)).toBe(false)
  expect(cache.usage()).toEqual(before)
  expect(await cache.readBlock(blob.id, 1)).toBeUndefined()

  disk.failDataWrites = false
  await cache.writeBlock(blob.id, 1, blob.block(1))
  expect(Buffer.from((await cache.readBlock(blob.id, 1))!)).toEqual(blob.block(1))
  await cache.close()
  cache = await BlockCache.open(dir)
  expect(cache.missingBlocks(blob.id)).toEqual([2, 3])
})

it("a writer's write that fails behind it is reported by the next write and by commit, and marks nothing", async () => {
  const blob = makeBlob(4)
  await cache.putManifest(blob.id, blob.manifest)
  const writer = cache.writer(blob.id)
  await writer.write(0, blob.block(0))
  disk.failDataWrites = true
  // Accepted (verified) before it is written: its failure comes later.
  await writer.write(1, blob.block(1)).catch(() => {})
  await expect(writer.commit()).rejects.toThrow(DiskFullError)
  await expect(writer.write(2, blob.block(2))).rejects.toThrow(DiskFullError)
  await expect(writer.close()).rejects.toThrow(DiskFullError)
  expect(cache.missingBlocks(blob.id)).toEqual([0, 1, 2, 3])

  disk.failDataWrites = false
  const again = cache.writer(blob.id)
  for (let i = 0; i < 4; i++) await again.write(i, blob.block(i))
  await again.close()
  expect(cache.isComplete(blob.id)).toBe(true)
})

it('a bitmap commit that hits a full disk fails every write in it and marks none', async () => {
  const blob = makeBlob(4)
  await cache.putManifest(blob.id, blob.manifest)
  disk.failReplaces = true
  const results = await Promise.allSettled([0, 1, 2].map((i) => cache.writeBlock(blob.id, i, blob.block(i))))
  for (const result of results) {
    expect(result.status).toBe('rejected')
    expect((result as PromiseRejectedResult).reason).toBeInstanceOf(DiskFullError)
  }
  expect(cache.missingBlocks(blob.id)).toEqual([0, 1, 2, 3])
  expect(cache.usage().bytes).toBe(17 + 4 * 32)

  disk.failReplaces = false
  for (let i = 0; i < 4; i++) await cache.writeBlock(blob.id, i, blob.block(i))
  expect(cache.isComplete(blob.id)).toBe(true)
})

it('a manifest or a pin that cannot be saved is not kept', async () => {
  const blob = makeBlob(2)
  disk.failReplaces = true
  await expect(cache.putManifest(blob.id, blob.manifest)).rejects.toThrow(DiskFullError)
  expect(cache.blobInfo(blob.id)).toBeUndefined()
  await expect(cache.pin(blob.id, 'x')).rejects.toThrow(DiskFullError)
  expect(cache.isPinned(blob.id)).toBe(false)
  disk.failReplaces = false
  await cache.putManifest(blob.id, blob.manifest)
  await cache.pin(blob.id, 'x')
  disk.failReplaces = true
  await expect(cache.unpin(blob.id)).rejects.toThrow(DiskFullError)
  expect(cache.isPinned(blob.id)).toBe(true)
})
