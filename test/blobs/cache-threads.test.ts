import { createHash, randomBytes } from 'node:crypto'
import { closeSync, constants, promises as fs, openSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import {
  BlockMismatchError,
  BlockWriteThread,
  ThreadWriteError,
} from '../../src/blobs/cache/block-write-thread.ts'
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

function writeThread(options?: ConstructorParameters<typeof BlockWriteThread>[0]): BlockWriteThread {
  const thread = new BlockWriteThread(options)
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
  // 256 KiB blocks, 12 per file and 3 files at once (the thread keeps 4 direct writes of up to 1 MiB in flight),
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

/** Whether files in `folder` open with O_DIRECT (ext4 and xfs do; tmpfs does not). */
function takesDirectIo(folder: string): boolean {
  if (typeof constants.O_DIRECT !== 'number') return false
  try {
    closeSync(
      openSync(path.join(folder, 'probe'), constants.O_CREAT | constants.O_WRONLY | constants.O_DIRECT),
    )
    return true
  } catch {
    return false
  }
}

/** 256 KiB blocks and a last one of 100,001 bytes, written at once through `thread` into a new file. */
async function writeFile(thread: BlockWriteThread, name: string, full = 4) {
  const { file, fd } = openFile(name)
  const blocks = [...Array.from({ length: full }, () => randomBytes(256 * 1024)), randomBytes(100_001)]
  const writes = blocks.map((block, i) => thread.write(fd, i * 256 * 1024, received(block), sha256(block)))
  return { file, blocks, writes }
}

it('writes with direct I/O where the file system takes it, and only a last partial 4 KiB plainly', async (ctx) => {
  if (!takesDirectIo(dir)) ctx.skip(`${dir} refuses O_DIRECT: nothing to check here`)
  const thread = writeThread()
  const { file, blocks, writes } = await writeFile(thread, 'data')
  await Promise.all(writes)
  expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
  const tail = 100_001 % 4096
  // The four full blocks in one write, the last block's whole 4 KiB in another.
  expect(thread.stats).toEqual({
    directBytes: 4 * 256 * 1024 + 100_001 - tail,
    plainBytes: tail,
    directWrites: 2,
    directOff: undefined,
  })
})

it('writes plainly what the file system refuses to take directly (EINVAL), and stays direct for the rest', async (ctx) => {
  if (!takesDirectIo(dir)) ctx.skip(`${dir} refuses O_DIRECT: nothing to check here`)
  const thread = writeThread({ faults: { directWrite: { code: 'EINVAL', times: 1 } } })
  const { file, blocks, writes } = await writeFile(thread, 'data')
  await Promise.all(writes)
  expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
  // The four full blocks, adjacent and handed over together, were one write: it went plainly. The
  // last block went directly but for its partial 4 KiB.
  const tail = 100_001 % 4096
  expect(thread.stats).toEqual({
    directBytes: 100_001 - tail,
    plainBytes: 4 * 256 * 1024 + tail,
    directWrites: 1,
    directOff: undefined,
  })
})

it('writes plainly the rest of a direct write that wrote less than asked, from the middle of a block', async (ctx) => {
  if (!takesDirectIo(dir)) ctx.skip(`${dir} refuses O_DIRECT: nothing to check here`)
  // The first direct write (the four full blocks, 1 MiB) stops 73 pages in: inside block 1.
  const thread = writeThread({ faults: { directWrite: { short: 73 * 4096, times: 1 } } })
  const { file, blocks, writes } = await writeFile(thread, 'data')
  await Promise.all(writes)
  expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
  const tail = 100_001 % 4096
  const direct = 73 * 4096
  expect(thread.stats).toEqual({
    directBytes: direct + 100_001 - tail,
    plainBytes: 4 * 256 * 1024 - direct + tail,
    directWrites: 2,
    directOff: undefined,
  })
})

it('splits blocks of any size across writes of 1 MiB, each byte at its position', async () => {
  const thread = writeThread()
  const { file, fd } = openFile('data')
  // Seven blocks of 300,000 bytes: the 1 MiB writes end inside blocks 3 and 6.
  const size = 300_000
  const blocks = Array.from({ length: 7 }, () => randomBytes(size))
  await Promise.all(blocks.map((block, i) => thread.write(fd, i * size, received(block), sha256(block))))
  expect(readFileSync(file).equals(Buffer.concat(blocks))).toBe(true)
  if (!takesDirectIo(dir)) return
  // 2,100,000 bytes: two whole MiB directly, the 2,848 after them plainly.
  expect(thread.stats).toEqual({
    directBytes: 2 * 1024 * 1024,
    plainBytes: 7 * size - 2 * 1024 * 1024,
    directWrites: 2,
    directOff: undefined,
  })
})

it('fails only the blocks whose direct write failed (EIO), and keeps writing', async (ctx) => {
  if (!takesDirectIo(dir)) ctx.skip(`${dir} refuses O_DIRECT: nothing to check here`)
  const thread = writeThread({ faults: { directWrite: { code: 'EIO', times: 1 } } })
  const { blocks, writes } = await writeFile(thread, 'data')
  const settled = await Promise.allSettled(writes)
  const failed = settled.flatMap((result, i) =>
    result.status === 'rejected' ? [{ i, error: result.reason }] : [],
  )
  // The four full blocks were one write (adjacent, handed over together): that write failed.
  expect(failed.map(({ i }) => i)).toEqual([0, 1, 2, 3])
  for (const { error } of failed) {
    expect(error).toBeInstanceOf(ThreadWriteError)
    expect(error).toMatchObject({ code: 'EIO' })
  }
  // The last block is in the file, at its position.
  const bytes = readFileSync(path.join(dir, 'data'))
  for (const [i, block] of blocks.entries()) {
    if (i < 4) continue
    expect(bytes.subarray(i * 256 * 1024, i * 256 * 1024 + block.length).equals(block)).toBe(true)
  }
  // And the thread goes on: a second file is written whole.
  const next = await writeFile(thread, 'next')
  await Promise.all(next.writes)
  expect(readFileSync(next.file).equals(Buffer.concat(next.blocks))).toBe(true)
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
    // tmpfs takes O_DIRECT since Linux 6.6; before, everything goes through the page cache, and the thread says why.
    if (takesDirectIo(shm))
      expect(thread.stats).toEqual({
        directBytes: 2 * 256 * 1024 + 4096,
        plainBytes: 5000 - 4096,
        directWrites: 1,
        directOff: undefined,
      })
    else expect(thread.stats).toMatchObject({ directBytes: 0, directOff: 'EINVAL' })
  } finally {
    await fs.rm(shm, { recursive: true, force: true })
  }
})

it('writes blocks handed over out of order, with gaps, and around a bad one, each at its position', async () => {
  const thread = writeThread()
  const { file, fd } = openFile('data')
  const size = 256 * 1024
  // Seven blocks of one file; 2 never comes, 4 comes with the wrong bytes; handed over last to first.
  const blocks = Array.from({ length: 7 }, () => randomBytes(size))
  const writes = [6, 5, 4, 3, 1, 0].map((i) => {
    const bytes = i === 4 ? randomBytes(size) : blocks[i]!
    return thread.write(fd, i * size, received(bytes), sha256(blocks[i]!)).then(
      () => ({ i, ok: true, error: undefined as unknown }),
      (error: unknown) => ({ i, ok: false, error }),
    )
  })
  const settled = await Promise.all(writes)
  expect(settled.filter((s) => !s.ok).map((s) => s.i)).toEqual([4])
  expect(settled.find((s) => s.i === 4)?.error).toBeInstanceOf(BlockMismatchError)
  const bytes = readFileSync(file)
  expect(bytes.length).toBe(7 * size)
  for (const i of [0, 1, 3, 5, 6])
    expect(bytes.subarray(i * size, (i + 1) * size).equals(blocks[i]!)).toBe(true)
  // Nothing was written where block 2 (never handed over) and block 4 (refused) go.
  for (const i of [2, 4]) expect(bytes.subarray(i * size, (i + 1) * size).every((b) => b === 0)).toBe(true)
  // Blocks that follow one another went out together: 0-1, 3 and 5-6, three writes for five blocks.
  if (takesDirectIo(dir)) expect(thread.stats).toMatchObject({ directWrites: 3, plainBytes: 0 })
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
