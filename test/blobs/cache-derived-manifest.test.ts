import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { BLOCK_SIZE, BlockCache, encodeManifest, manifestOf } from '../../src/blobs/index.ts'

// A blob of one standard block keeps no .manifest file: its manifest is derived from its data, and
// the content ID checks that data (src/blobs/cache/layout.ts, derivesManifest).

let dir: string
const opened: BlockCache[] = []
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-derived-'))
})
afterEach(async () => {
  for (const cache of opened.splice(0)) await cache.close()
  await fs.rm(dir, { recursive: true, force: true })
})

async function open(): Promise<BlockCache> {
  const cache = await BlockCache.open(dir)
  opened.push(cache)
  return cache
}

async function reopen(cache: BlockCache): Promise<BlockCache> {
  await cache.close()
  opened.splice(opened.indexOf(cache), 1)
  return open()
}

function smallBlob(size = 127 * 1024) {
  const bytes = randomBytes(size)
  const { manifest, contentId } = manifestOf(bytes, BLOCK_SIZE)
  return { bytes, manifest, id: contentId }
}

function filesOf(id: string) {
  const shard = path.join(dir, 'blobs', id.slice(0, 2))
  return {
    blob: path.join(shard, `${id}.blob`),
    partial: path.join(shard, `${id}.partial`),
    manifest: path.join(shard, `${id}.manifest`),
  }
}

/** Puts the blob's manifest and its one block. */
async function store(cache: BlockCache, blob: ReturnType<typeof smallBlob>): Promise<void> {
  await cache.putManifest(blob.id, blob.manifest)
  await cache.writeBlock(blob.id, 0, blob.bytes)
}

/** Overwrites 8 bytes of a data file in place, as a failing disk or another program could. */
async function damage(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+')
  await handle.write(Buffer.alloc(8, 0xff), 0, 8, 1000)
  await handle.close()
}

const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  )

it('stores a one-block blob as one file, and serves it verified after a restart', async () => {
  let cache = await open()
  const blob = smallBlob()
  await cache.putManifest(blob.id, blob.manifest)
  // Until its block is in, the manifest is held in memory.
  expect(await cache.getManifest(blob.id)).toEqual(blob.manifest)
  await cache.writeBlock(blob.id, 0, blob.bytes)
  expect(await exists(filesOf(blob.id).manifest)).toBe(false)
  expect(await exists(filesOf(blob.id).blob)).toBe(true)
  const usage = cache.usage()
  expect(usage.bytes).toBe(blob.bytes.length + encodeManifest(blob.manifest).length)

  cache = await reopen(cache)
  expect(cache.isComplete(blob.id)).toBe(true)
  expect(cache.usage().bytes).toBe(usage.bytes)
  expect(await cache.getManifest(blob.id)).toEqual(blob.manifest)
  expect(Buffer.from((await cache.readBlock(blob.id, 0))!).equals(blob.bytes)).toBe(true)
})

it('drops a one-block blob whose bytes changed on disk, so that it is fetched again', async () => {
  let cache = await open()
  const blob = smallBlob()
  await store(cache, blob)
  cache = await reopen(cache)
  await damage(filesOf(blob.id).blob)
  expect(await cache.readBlock(blob.id, 0)).toBeUndefined()
  expect(cache.blobInfo(blob.id)).toBeUndefined()
  expect(await exists(filesOf(blob.id).blob)).toBe(false)
  // And it can be stored again.
  await store(cache, blob)
  expect(cache.isComplete(blob.id)).toBe(true)
})

it('drops, when it opens, a one-block blob left incomplete (no data to derive its manifest from)', async () => {
  const cache = await open()
  const blob = smallBlob()
  await cache.putManifest(blob.id, blob.manifest)
  // As a crash between the open of the data file and the block's commit leaves it.
  await fs.writeFile(filesOf(blob.id).partial, blob.bytes.subarray(0, 1000))
  await cache.close()
  opened.splice(0)
  const again = await open()
  expect(again.blobInfo(blob.id)).toBeUndefined()
  expect(again.openReport.blobsDropped).toEqual([blob.id])
  expect(await exists(filesOf(blob.id).partial)).toBe(false)
})

it('keeps .manifest files for blobs of several blocks and for other block sizes', async () => {
  const cache = await open()
  const large = smallBlob(BLOCK_SIZE + 1)
  const other = (() => {
    const bytes = randomBytes(1000)
    const { manifest, contentId } = manifestOf(bytes, 1024)
    return { bytes, manifest, id: contentId }
  })()
  for (const blob of [large, other]) await cache.putManifest(blob.id, blob.manifest)
  await cache.writeBlock(other.id, 0, other.bytes)
  expect(await exists(filesOf(large.id).manifest)).toBe(true)
  expect(await exists(filesOf(other.id).manifest)).toBe(true)
})

it('reads nothing, without throwing, once the data of a one-block blob is deleted from outside', async () => {
  let cache = await open()
  const blob = smallBlob()
  await store(cache, blob)
  cache = await reopen(cache)
  await fs.rm(filesOf(blob.id).blob)
  expect(await cache.readBlock(blob.id, 0)).toBeUndefined()
  expect(await cache.getManifest(blob.id)).toBeUndefined()
  expect(cache.blobInfo(blob.id)).toBeUndefined()
  expect(await cache.scrub()).toEqual({ checkedBlocks: 0, droppedBlocks: 0 })
})

it('drops the whole one-block blob when its block fails verification (its manifest came from it)', async () => {
  const cache = await open()
  const blob = smallBlob()
  await store(cache, blob)
  // The manifest is still in memory: the read itself finds the damage.
  await damage(filesOf(blob.id).blob)
  expect(await cache.readBlock(blob.id, 0)).toBeUndefined()
  expect(cache.blobInfo(blob.id)).toBeUndefined()
  await vi.waitFor(async () => expect(await exists(filesOf(blob.id).blob)).toBe(false))
  expect(await exists(filesOf(blob.id).partial)).toBe(false)
})
