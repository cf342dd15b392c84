import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BLOCK_SIZE, BlockCache, encodeManifest, manifestOf } from '../../src/blobs/index.ts'

// Throughput of the cache on this machine, printed (not asserted beyond sanity): a 100 MB blob in
// 256 KiB blocks, written block by block (verify, pwrite, fdatasync, bitmap commit) and read back
// (read, verify).

const SIZE = 100 * 1024 * 1024
const MB = 1024 * 1024

let dir: string
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-perf-'))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  return process.memoryUsage().heapUsed
}

function rate(bytes: number, ms: number): string {
  return `${((bytes / MB) * (1000 / ms)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`
}

it('writes and reads a 100 MB blob', async () => {
  const cache = await BlockCache.open(path.join(dir, 'cache'))
  const lines: string[] = []
  for (const writers of [1, 4]) {
    const bytes = randomBytes(SIZE)
    const { manifest, contentId } = manifestOf(bytes)
    const blocks = Math.ceil(SIZE / BLOCK_SIZE)
    await cache.putManifest(contentId, manifest)
    let next = 0
    let start = performance.now()
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < blocks) {
          const i = next++
          await cache.writeBlock(contentId, i, bytes.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE))
        }
      }),
    )
    lines.push(`write, ${writers} writer(s): ${rate(SIZE, performance.now() - start)}`)
    expect(cache.isComplete(contentId)).toBe(true)

    if (writers === 1) {
      start = performance.now()
      for (let i = 0; i < blocks; i++) expect(await cache.readBlock(contentId, i)).toBeDefined()
      lines.push(`readBlock, one at a time: ${rate(SIZE, performance.now() - start)}`)
      start = performance.now()
      let total = 0
      for await (const part of cache.readRange(contentId, 0, SIZE - 1)) total += part.length
      lines.push(`readRange, whole blob: ${rate(SIZE, performance.now() - start)}`)
      expect(total).toBe(SIZE)
    }
  }

  // For scale: the same bytes with plain fs calls, no verification.
  const raw = path.join(dir, 'raw')
  const bytes = randomBytes(SIZE)
  let start = performance.now()
  const handle = await fs.open(raw, 'w')
  await handle.writeFile(bytes)
  await handle.sync()
  await handle.close()
  lines.push(`baseline, fs write + fsync: ${rate(SIZE, performance.now() - start)}`)
  start = performance.now()
  await fs.readFile(raw)
  lines.push(`baseline, fs read: ${rate(SIZE, performance.now() - start)}`)
  await cache.close()
  console.log(`block cache, 100 MB blob in 256 KiB blocks:\n  ${lines.join('\n  ')}`)
})

it('opens a cache of 5000 blobs quickly', async () => {
  const root = path.join(dir, 'many')
  const count = 5000
  const make = async () => {
    // 40 blocks: a manifest as long as a 10 MB track's (the blocks are small to make this quick).
    const bytes = randomBytes(40 * 64)
    const { manifest, contentId } = manifestOf(bytes, 64)
    const shard = path.join(root, 'blobs', contentId.slice(0, 2))
    await fs.mkdir(shard, { recursive: true })
    await fs.writeFile(path.join(shard, `${contentId}.manifest`), encodeManifest(manifest))
    await fs.writeFile(path.join(shard, `${contentId}.blob`), bytes)
  }
  for (let n = 0; n < count; n += 50) await Promise.all(Array.from({ length: 50 }, make))
  const heapBefore = heapAfterGc()
  const start = performance.now()
  const cache = await BlockCache.open(root, { limitBytes: 10 * 1024 ** 3 })
  const ms = performance.now() - start
  const perBlob = (heapAfterGc() - heapBefore) / count
  expect(cache.usage().completeBlobs).toBe(count)
  console.log(
    `block cache: opened ${count} blobs in ${ms.toFixed(0)} ms; heap ~${perBlob.toFixed(0)} bytes a blob`,
  )
  await cache.close()
})
