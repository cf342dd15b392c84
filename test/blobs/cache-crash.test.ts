import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { BlockCache, manifestOf } from '../../src/blobs/index.ts'

// Crash simulations: the files are left as a crash at each step would leave them, then the cache is
// reopened. Whatever it then reports present must verify, and temp files must be gone.

const BLOCK = 1024

let dir: string
const opened: BlockCache[] = []
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-crash-'))
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

async function closeAll(): Promise<void> {
  for (const cache of opened.splice(0)) await cache.close()
}

function makeBlob(blocks: number) {
  const bytes = randomBytes(blocks * BLOCK - 100)
  const { manifest, contentId } = manifestOf(bytes, BLOCK)
  const block = (i: number) => bytes.subarray(i * BLOCK, Math.min(bytes.length, (i + 1) * BLOCK))
  const shard = path.join(dir, 'blobs', contentId.slice(0, 2))
  const file = (kind: string) => path.join(shard, `${contentId}.${kind}`)
  return { bytes, manifest, id: contentId, block, blocks, shard, file }
}

async function writeBlocks(blob: ReturnType<typeof makeBlob>, indices: number[]): Promise<void> {
  const cache = await open()
  await cache.putManifest(blob.id, blob.manifest)
  for (const i of indices) await cache.writeBlock(blob.id, i, blob.block(i))
  await closeAll()
}

async function pwrite(file: string, bytes: Uint8Array, offset: number): Promise<void> {
  const handle = await fs.open(file, 'r+')
  await handle.write(bytes, 0, bytes.length, offset)
  await handle.close()
}

/** Every block the cache says it has must read back verified; returns the indices it has. */
async function presentAndVerified(cache: BlockCache, blob: ReturnType<typeof makeBlob>): Promise<number[]> {
  const present: number[] = []
  for (let i = 0; i < blob.blocks; i++) {
    if (!cache.hasBlock(blob.id, i)) continue
    const got = await cache.readBlock(blob.id, i)
    expect(got && Buffer.from(got).equals(blob.block(i)), `block ${i}`).toBe(true)
    present.push(i)
  }
  return present
}

it('a block written but not yet in the bitmap is not present after a crash', async () => {
  const blob = makeBlob(4)
  await writeBlocks(blob, [0])
  // The crash came after block 1's pwrite, before its bitmap commit.
  await pwrite(blob.file('partial'), blob.block(1), BLOCK)
  const cache = await open()
  expect(cache.openReport.bitmapsRebuilt).toBe(0)
  expect(await presentAndVerified(cache, blob)).toEqual([0])
  await cache.writeBlock(blob.id, 1, blob.block(1))
  expect(await presentAndVerified(cache, blob)).toEqual([0, 1])
})

it('a crash before the first bitmap: the bitmap is rebuilt from the blocks that verify', async () => {
  const blob = makeBlob(4)
  await writeBlocks(blob, [0, 2, 3])
  await fs.rm(blob.file('bitmap'))
  await pwrite(blob.file('partial'), randomBytes(200), 3 * BLOCK + 10) // and block 3 was torn
  const cache = await open()
  expect(cache.openReport.bitmapsRebuilt).toBe(1)
  expect(await presentAndVerified(cache, blob)).toEqual([0, 2])
})

it('a damaged bitmap is detected by its checksum and rebuilt', async () => {
  const blob = makeBlob(12)
  await writeBlocks(blob, [1, 5, 9])
  const bitmap = await fs.readFile(blob.file('bitmap'))
  bitmap[bitmap.length - 1]! ^= 0x01
  await fs.writeFile(blob.file('bitmap'), bitmap)
  const cache = await open()
  expect(cache.openReport.bitmapsRebuilt).toBe(1)
  expect(await presentAndVerified(cache, blob)).toEqual([1, 5, 9])
})

it('a bitmap that claims a torn block: the read catches it and drops it, for good', async () => {
  const blob = makeBlob(4)
  await writeBlocks(blob, [0, 1, 2])
  // A torn write the disk acknowledged: half of block 1 is old garbage.
  await pwrite(blob.file('partial'), randomBytes(BLOCK / 2), BLOCK)
  let cache = await open()
  expect(cache.hasBlock(blob.id, 1)).toBe(true)
  expect(await cache.readBlock(blob.id, 1)).toBeUndefined()
  expect(await presentAndVerified(cache, blob)).toEqual([0, 2])
  await closeAll()
  cache = await open()
  expect(await presentAndVerified(cache, blob)).toEqual([0, 2])
})

it('a truncated data file: claimed blocks past its end are dropped on open', async () => {
  const blob = makeBlob(6)
  await writeBlocks(blob, [0, 1, 4])
  await fs.truncate(blob.file('partial'), 2 * BLOCK)
  const cache = await open()
  expect(cache.openReport.blocksDropped).toBe(1)
  expect(await presentAndVerified(cache, blob)).toEqual([0, 1])
})

it('a complete blob of the wrong length keeps only what still verifies', async () => {
  const blob = makeBlob(4)
  await writeBlocks(blob, [0, 1, 2, 3])
  await fs.truncate(blob.file('blob'), 2 * BLOCK + 10)
  const cache = await open()
  expect(cache.isComplete(blob.id)).toBe(false)
  expect(await presentAndVerified(cache, blob)).toEqual([0, 1])
  for (const i of [2, 3]) await cache.writeBlock(blob.id, i, blob.block(i))
  expect(cache.isComplete(blob.id)).toBe(true)
  expect(await fs.readFile(blob.file('blob'))).toEqual(blob.bytes)
})

it('removes temp files of unfinished atomic writes, and files without a good manifest', async () => {
  const blob = makeBlob(4)
  const orphan = makeBlob(2)
  const badManifest = makeBlob(2)
  await writeBlocks(blob, [0, 1])
  await writeBlocks(badManifest, [0])
  await fs.writeFile(path.join(blob.shard, `.${blob.id}.bitmap.0a1b2c3d4e5f.tmp`), 'half a bitmap')
  await fs.writeFile(path.join(dir, '.pins.json.0a1b2c3d4e5f.tmp'), '{"vers')
  await fs.mkdir(orphan.shard, { recursive: true })
  await fs.writeFile(orphan.file('partial'), orphan.block(0)) // data whose manifest never landed
  await fs.writeFile(badManifest.file('manifest'), 'not a manifest')
  const cache = await open()
  expect(cache.openReport.tempFilesRemoved).toBe(2)
  expect(cache.openReport.blobsDropped.sort()).toEqual([orphan.id, badManifest.id].sort())
  expect(await presentAndVerified(cache, blob)).toEqual([0, 1])
  expect(cache.blobInfo(orphan.id)).toBeUndefined()
  expect(cache.blobInfo(badManifest.id)).toBeUndefined()
  const leftovers = []
  for (const shard of await fs.readdir(path.join(dir, 'blobs'))) {
    for (const name of await fs.readdir(path.join(dir, 'blobs', shard))) {
      if (name.endsWith('.tmp') || name.startsWith(orphan.id) || name.startsWith(badManifest.id)) {
        leftovers.push(name)
      }
    }
  }
  expect(leftovers).toEqual([])
  expect((await fs.readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([])
})

it('a crash in the middle of completing: the .blob wins over a stale bitmap or partial', async () => {
  const blob = makeBlob(3)
  await writeBlocks(blob, [0, 1])
  const staleBitmap = await fs.readFile(blob.file('bitmap'))
  await writeBlocks(blob, [2])
  await fs.writeFile(blob.file('bitmap'), staleBitmap)
  await fs.writeFile(blob.file('partial'), 'stale')
  const cache = await open()
  expect(cache.isComplete(blob.id)).toBe(true)
  expect(await presentAndVerified(cache, blob)).toEqual([0, 1, 2])
  expect((await fs.readdir(blob.shard)).sort()).toEqual([`${blob.id}.blob`, `${blob.id}.manifest`])
})

it('a damaged pins file is moved aside, not trusted and not lost', async () => {
  await fs.writeFile(path.join(dir, 'pins.json'), '{"version":1,"pins":[{"conte')
  const cache = await open()
  expect(cache.openReport.pinsFileDamaged).toBe(true)
  expect(cache.pins()).toEqual([])
  expect((await fs.readdir(dir)).some((name) => name.startsWith('pins.json.damaged-'))).toBe(true)
})

it.each([40, 150, 300])(
  'a process killed after %i acknowledged blocks leaves only verified ones, and keeps every acknowledged one',
  async (killAfter) => {
    const blobs = Array.from({ length: 6 }, () => makeBlob(64))
    const cacheModule = fileURLToPath(new URL('../../src/blobs/index.ts', import.meta.url))
    const payload = path.join(dir, 'payload.json')
    await fs.writeFile(
      payload,
      JSON.stringify(blobs.map((b) => ({ id: b.id, bytes: b.bytes.toString('base64') }))),
    )
    // The child writes blocks of all blobs, a few at a time, and prints each block once it is acknowledged.
    const child = `
    const { BlockCache, manifestOf } = await import(${JSON.stringify(cacheModule)})
    const { readFileSync } = await import('node:fs')
    const blobs = JSON.parse(readFileSync(${JSON.stringify(payload)}, 'utf8'))
    const cache = await BlockCache.open(${JSON.stringify(path.join(dir, 'cache'))})
    const jobs = []
    for (const { id, bytes } of blobs) {
      const data = Buffer.from(bytes, 'base64')
      await cache.putManifest(id, manifestOf(data, ${BLOCK}).manifest)
      for (let i = 0; i * ${BLOCK} < data.length; i++) jobs.push([id, i, data.subarray(i * ${BLOCK}, (i + 1) * ${BLOCK})])
    }
    let next = 0
    const worker = async () => {
      while (next < jobs.length) {
        const [id, i, block] = jobs[next++]
        await cache.writeBlock(id, i, block)
        process.stdout.write(id + ' ' + i + '\\n')
      }
    }
    await Promise.all([worker(), worker(), worker()])
    process.stdout.write('done\\n')
    await new Promise(() => {})
  `
    const acknowledged: string[] = []
    await new Promise<void>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--input-type=module', '-e', child], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let buffered = ''
      proc.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop()!
        acknowledged.push(...lines)
        // Kill it there, wherever it is in its next writes.
        if (acknowledged.length >= killAfter && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL')
      })
      proc.on('exit', () => resolve())
      proc.on('error', reject)
    })
    expect(acknowledged).not.toContain('done')
    expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter)

    const cache = await BlockCache.open(path.join(dir, 'cache'))
    opened.push(cache)
    const scrub = await cache.scrub()
    expect(scrub.droppedBlocks).toBe(0)
    for (const line of acknowledged) {
      const [id, index] = line.split(' ')
      expect(cache.hasBlock(id!, Number(index)), line).toBe(true)
    }
    let present = 0
    for (const blob of blobs) present += (await presentAndVerified(cache, blob)).length
    expect(present).toBe(scrub.checkedBlocks)
    expect(present).toBeGreaterThanOrEqual(acknowledged.length)
    const shards = path.join(dir, 'cache', 'blobs')
    for (const shard of await fs.readdir(shards)) {
      expect((await fs.readdir(path.join(shards, shard))).filter((name) => name.endsWith('.tmp'))).toEqual([])
    }
  },
)
