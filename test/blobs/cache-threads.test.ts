import { createHash, randomBytes } from 'node:crypto'
import { closeSync, promises as fs, openSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { BlockMismatchError, BlockWriteThread } from '../../src/blobs/cache/block-write-thread.ts'
import { CorruptBlockError } from '../../src/blobs/index.ts'

// The cache's write thread: blocks verified and written off the event loop.

let dir: string
const threads: BlockWriteThread[] = []
const fds: number[] = []
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-cache-threads-'))
})
afterEach(async () => {
  for (const thread of threads.splice(0)) await thread.close()
  for (const fd of fds.splice(0)) closeSync(fd)
  await fs.rm(dir, { recursive: true, force: true })
})

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

function openFile(name: string): { file: string; fd: number } {
  const file = path.join(dir, name)
  const fd = openSync(file, 'w+')
  fds.push(fd)
  return { file, fd }
}

function writeThread(): BlockWriteThread {
  const thread = new BlockWriteThread()
  threads.push(thread)
  return thread
}

/** A block as the blob session receives it: a message of its own, a small header before the block. */
function received(block: Uint8Array): Uint8Array {
  const message = Buffer.allocUnsafe(5 + block.length)
  message.fill(0xee, 0, 5)
  message.set(block, 5)
  return message.subarray(5)
}

it('writes blocks that match their hash at their positions, however many are handed over at once', async () => {
  const thread = writeThread()
  const { file, fd } = openFile('data')
  const blocks = Array.from({ length: 40 }, () => randomBytes(4096))
  await Promise.all(blocks.map((block, i) => thread.write(fd, i * 4096, received(block), sha256(block))))
  expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
})

it('writes whole blocks directly and a last partial block plainly, more blocks than writes in flight', async () => {
  // 256 KiB blocks, 12 per file and 3 files at once (the thread keeps 8 direct writes in flight),
  // each file ending in a block whose length is no multiple of 4 KiB.
  const thread = writeThread()
  const files = ['a', 'b', 'c'].map((name) => ({
    ...openFile(name),
    blocks: [...Array.from({ length: 12 }, () => randomBytes(256 * 1024)), randomBytes(100_001)],
  }))
  await Promise.all(
    files.flatMap(({ fd, blocks }) =>
      blocks.map((block, i) => thread.write(fd, i * 256 * 1024, received(block), sha256(block))),
    ),
  )
  for (const { file, blocks } of files) expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
})

it('writes on tmpfs as well (/dev/shm); /dev/full, which refuses direct writes, is the ENOSPC test below', async () => {
  const shm = await fs.mkdtemp('/dev/shm/cl-cache-threads-').catch(() => undefined)
  if (shm === undefined) return
  try {
    const thread = writeThread()
    const file = path.join(shm, 'data')
    const fd = openSync(file, 'w+')
    fds.push(fd)
    const blocks = [randomBytes(256 * 1024), randomBytes(256 * 1024), randomBytes(5000)]
    await Promise.all(
      blocks.map((block, i) => thread.write(fd, i * 256 * 1024, received(block), sha256(block))),
    )
    expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
  } finally {
    await fs.rm(shm, { recursive: true, force: true })
  }
})

it('refuses a block that does not match its hash and writes nothing of it', async () => {
  const thread = writeThread()
  const { file, fd } = openFile('data')
  const good = randomBytes(1000)
  const bad = randomBytes(1000)
  const refused = thread.write(fd, 1000, received(bad), sha256(good))
  await expect(refused).rejects.toThrow(BlockMismatchError)
  await expect(refused).rejects.toBeInstanceOf(CorruptBlockError)
  await thread.write(fd, 0, received(good), sha256(good))
  expect(readFileSync(file).equals(good)).toBe(true)
})

it("moves a received message's memory to the thread, and copies bytes that share a buffer", async () => {
  const thread = writeThread()
  const { file, fd } = openFile('data')
  const block = randomBytes(64 * 1024)
  const message = received(block)
  const pooled = Buffer.from('a few bytes in the memory Node pools for small buffers')
  await Promise.all([
    thread.write(fd, 0, message, sha256(block)),
    thread.write(fd, block.length, pooled, sha256(pooled)),
  ])
  // The message is gone from this thread (not copied); the pooled bytes are still there.
  expect(message.length).toBe(0)
  expect(pooled.toString()).toBe('a few bytes in the memory Node pools for small buffers')
  expect(readFileSync(file).equals(Buffer.concat([block, pooled]))).toBe(true)
})

it('reports a failed write with its system error code (a full disk: ENOSPC)', async () => {
  const thread = writeThread()
  const fd = openSync('/dev/full', 'w')
  fds.push(fd)
  const block = randomBytes(4096)
  await expect(thread.write(fd, 0, block, sha256(block))).rejects.toMatchObject({ code: 'ENOSPC' })
})

it('fails writes after close', async () => {
  const thread = new BlockWriteThread()
  await thread.close()
  const block = randomBytes(10)
  await expect(thread.write(1, 0, block, sha256(block))).rejects.toThrow(/closing/)
})
