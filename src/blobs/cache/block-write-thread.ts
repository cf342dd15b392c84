import { Worker } from 'node:worker_threads'
import { CorruptBlockError } from './errors.ts'

/**
 * Verifies blocks (SHA-256 against their manifest's hash) and writes them into their data files in a
 * worker thread, so that a receiving device's main thread only receives and decrypts.
 *
 * Why: a mirror keeps the receiver's main thread busy from end to end (decrypting, hashing, writing,
 * all on one thread) while the machine's other core has room. The main thread gathers blocks for
 * a few milliseconds into one message (their memory moves to the thread, not copied): a
 * message per block, or one call of libuv's thread pool per block, cost more in wake-ups on a busy
 * 2-core machine than the work it moved (measured: hashing 1 GiB in the pool or a thread, a message
 * per block, took 2.1 s against 1.6 s in line). Measured with the Node floor's receiver
 * (bench/lib/floor-child.ts) changed to hash and write in a worker thread (an experiment, not kept),
 * 1 GiB in 200 files: 336-356 MB/s to tmpfs against 227-248 with everything on one thread, 277-304
 * against 261-262 to disk.
 *
 * Blocks are written with direct I/O where the system allows it (Linux, a file system that takes
 * O_DIRECT; plain writes otherwise, for a file's last partial 4 KiB, for blocks that do not start
 * on a 4 KiB boundary, and for a write the file system refuses with EINVAL): through a second
 * descriptor of the same file (/proc/self/fd), from page-aligned memory, up to 4 writes at once
 * in libuv's pool. Why: a mirror writes gigabytes that nobody reads soon, and through the page
 * cache every one of them takes a fresh page. On this VM a page not touched lately costs the
 * kernel ~8x the CPU (measured: 1 GiB written into new files took 0.3 s of kernel time with pages
 * freed seconds before, 1.3-2.9 s without), and on any machine a mirror pushed the user's own
 * files out of memory. Alternating 1 GiB mirrors to disk: 259.6, 227.9, 258.8 MB/s against 229.8,
 * 230.7, 229.8 with buffered writes; 10k tracks 131.3, 170.9 against 131.5, 144.6. Direct writes
 * one at a time in the thread were slower (159-197 against 206 MB/s): the thread waited for the
 * disk. The fdatasync at a blob's commit still makes it durable (file size, the disk's cache).
 *
 * Writes of adjacent blocks gathered: the blocks of a batch that follow one another in a file (a
 * mirror's session receives a blob's blocks in order) go out as one write of up to 1 MiB, not one
 * per 256 KiB block. Each write is a trip through libuv's pool, two thread wake-ups that on a busy
 * 2-core machine take a core from the main threads. Per-thread counters (/proc schedstat) over a 1
 * GiB mirror: the pool's threads ran 5,500 times for 0.25 CPU-s against 13,600 times for 0.34, the
 * write thread 2,600 times against 5,900; the mirror's speed, within this machine's noise.
 * A write that fails fails the blocks it carried, and only those.
 *
 * The descriptor must stay open until the write settles (Descriptor.track).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads')
const { createHash } = process.getBuiltinModule('node:crypto')
const { closeSync, constants, openSync, write, writeSync } = process.getBuiltinModule('node:fs')

// Direct I/O (see the comment above WORKER_SOURCE): positions and lengths in multiples of ALIGN,
// from page-aligned memory (a WebAssembly memory's buffer: V8 maps it whole pages at a time; an
// ArrayBuffer's address is not to be known from JavaScript), SLOTS writes in flight in libuv's pool.
// Adjacent blocks of a file that arrive in one batch go out as one write of up to SLOT_BYTES
// (see "Writes of adjacent blocks gathered" above WORKER_SOURCE).
const ALIGN = 4096
const SLOT_BYTES = 1024 * 1024
const SLOTS = 4
let direct = process.platform === 'linux' && typeof constants.O_DIRECT === 'number'
const arena = direct ? new Uint8Array(new WebAssembly.Memory({ initial: (SLOTS * SLOT_BYTES) / 65536 }).buffer) : undefined
const freeSlots = Array.from({ length: SLOTS }, (_, i) => i)
const slotWaiters = []
const takeSlot = () =>
  freeSlots.length > 0 ? Promise.resolve(freeSlots.pop()) : new Promise((resolve) => slotWaiters.push(resolve))
const giveSlot = (slot) => {
  const next = slotWaiters.shift()
  if (next !== undefined) next(slot)
  else freeSlots.push(slot)
}
// Bytes written each way, direct writes made, and why direct I/O went off (reported with every batch's results).
const counts = { directBytes: 0, plainBytes: 0, directWrites: 0, directOff: undefined }
if (!direct) counts.directOff = 'unsupported'
// Tests make direct writes fail, or write less than asked (BlockWriteThreadOptions.faults).
const fault = workerData?.faults?.directWrite
let faultsLeft = fault?.times ?? 0
const writeAsync = (fd, buffer, offset, length, position) =>
  new Promise((resolve, reject) => {
    if (faultsLeft > 0) {
      faultsLeft--
      if (fault.short !== undefined) length = Math.min(length, fault.short)
      else {
        const error = new Error(fault.code + ': injected by a test')
        error.code = fault.code
        return reject(error)
      }
    }
    write(fd, buffer, offset, length, position, (error, written) => {
      if (error) return reject(error)
      counts.directWrites++
      resolve(written)
    })
  })

/** A second descriptor of the same file, opened for direct I/O; -1 if that is not possible now. */
function directFd(fd, opened) {
  let d = opened.get(fd)
  if (d !== undefined) return d
  try {
    d = openSync('/proc/self/fd/' + fd, constants.O_WRONLY | constants.O_DIRECT)
  } catch (error) {
    // The file system refuses it, or there is no /proc: plain writes from now on. Anything else
    // (out of descriptors, say) only for this batch.
    if (['EINVAL', 'ENOENT', 'EACCES', 'EPERM', 'EOPNOTSUPP'].includes(error.code)) {
      direct = false
      counts.directOff = error.code
    }
    d = -1
  }
  opened.set(fd, d)
  return d
}

/**
 * The verified blocks of a batch as writes: per file, blocks that follow one another are cut into
 * pieces of at most SLOT_BYTES, each piece a list of parts { op, from, to } (bytes of one block).
 */
function writesOf(ops) {
  const byFile = new Map()
  for (const op of ops) {
    const list = byFile.get(op.fd)
    if (list === undefined) byFile.set(op.fd, [op])
    else list.push(op)
  }
  const writes = []
  for (const [fd, list] of byFile) {
    list.sort((a, b) => a.position - b.position)
    let current
    for (const op of list) {
      // A block that does not follow the last one, or a write that is full, starts another write.
      if (current === undefined || current.position + current.length !== op.position) {
        current = { fd, position: op.position, length: 0, parts: [] }
        writes.push(current)
      }
      let from = 0
      while (from < op.length) {
        if (current.length === SLOT_BYTES) {
          current = { fd, position: current.position + SLOT_BYTES, length: 0, parts: [] }
          writes.push(current)
        }
        const to = Math.min(op.length, from + SLOT_BYTES - current.length)
        current.parts.push({ op, from, to })
        current.length += to - from
        from = to
      }
    }
  }
  return writes
}

/** One write: what it can of its whole 4 KiB directly, from a slot of the arena; the rest plainly. */
async function writeOut(w, opened) {
  let done = 0
  const aligned = w.length - (w.length % ALIGN)
  if (direct && aligned > 0 && w.position % ALIGN === 0) {
    const d = directFd(w.fd, opened)
    if (d >= 0) {
      const slot = await takeSlot()
      try {
        let at = slot * SLOT_BYTES
        for (const { op, from, to } of w.parts) {
          arena.set(op.bytes.subarray(from, to), at)
          at += to - from
        }
        const wrote = await writeAsync(d, arena, slot * SLOT_BYTES, aligned, w.position)
        done = wrote - (wrote % ALIGN)
      } catch (error) {
        // A file system that takes direct writes only on its own terms: these bytes go plainly.
        if (error.code !== 'EINVAL') throw error
      } finally {
        giveSlot(slot)
      }
      counts.directBytes += done
    }
  }
  let at = 0
  for (const { op, from, to } of w.parts) {
    const skip = Math.max(0, Math.min(to - from, done - at))
    let offset = from + skip
    while (offset < to) {
      const wrote = writeSync(w.fd, op.bytes, offset, to - offset, w.position + at + (offset - from))
      counts.plainBytes += wrote
      offset += wrote
    }
    at += to - from
  }
}

parentPort.on('message', async (ops) => {
  const opened = new Map()
  const results = []
  const verified = []
  for (const op of ops) {
    op.bytes = new Uint8Array(op.buffer, op.offset, op.length)
    const digest = createHash('sha256').update(op.bytes).digest()
    if (digest.equals(op.sha256)) verified.push(op)
    else results.push([op.id, 1])
  }
  // A failed write fails the blocks it carried; the others are written.
  const failed = new Map()
  await Promise.all(
    writesOf(verified).map(async (w) => {
      try {
        await writeOut(w, opened)
      } catch (error) {
        for (const { op } of w.parts) failed.set(op.id, error)
      }
    }),
  )
  for (const op of verified) {
    const error = failed.get(op.id)
    results.push(error === undefined ? [op.id, 0] : [op.id, 2, error.code, error.message])
  }
  for (const d of opened.values()) {
    try {
      if (d >= 0) closeSync(d)
    } catch {}
  }
  parentPort.postMessage([results, counts])
})
`

/** A block whose bytes did not hash to what its manifest says (raised by BlockWriteThread). */
export class BlockMismatchError extends CorruptBlockError {
  override name = 'BlockMismatchError'
  /** The block's index, when the raiser knows it. */
  readonly index: number | undefined
  constructor(message: string, index?: number) {
    super(message)
    this.index = index
  }
}

/** A failed write in the thread, with the system error's code (ENOSPC, EIO...). */
export class ThreadWriteError extends Error {
  override name = 'ThreadWriteError'
  readonly code: string | undefined
  constructor(message: string, code: string | undefined) {
    super(message)
    this.code = code
  }
}

interface Op {
  id: number
  fd: number
  position: number
  buffer: ArrayBuffer
  offset: number
  length: number
  sha256: Uint8Array
}

interface Waiting {
  resolve: () => void
  reject: (error: Error) => void
}

/**
 * A buffer moves to the thread when it holds at most this many bytes besides the block (a message's
 * header): never one of Node's pool slabs (8 KiB, for buffers under 4 KiB) or a large shared buffer.
 */
const MOVABLE_SLACK = 256

function copyOf(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length)
  copy.set(bytes)
  return copy.buffer
}

/**
 * Blocks are gathered for up to POST_AFTER_MS, or until POST_BYTES wait, then posted together. A
 * message to an idle thread wakes it, and on a busy 2-core machine each wake-up costs the main
 * thread its core for a while: mirroring 10k small tracks to tmpfs, a message per turn of the event
 * loop cost the receiver's main thread 0.7 s (~70 µs a message), more than the hashing it moved;
 * with 1 MiB or 3 ms per message the mirror ran at 147-158 MB/s, with 4 MiB or 10 ms at 170-194
 * (6 MiB or 20 ms: no better). 1 GiB in 5 MB files: 252-260 MB/s either way. Below the cache's
 * write-behind bound (8 MiB), which makes writers wait for their blocks to be written.
 */
const POST_BYTES = 4 * 1024 * 1024
const POST_AFTER_MS = 10

/** How the thread has written so far. */
export interface WriteThreadStats {
  /** Bytes written with direct I/O. */
  directBytes: number
  /** Bytes written through the page cache (see the comment above WORKER_SOURCE for which; all where direct I/O is off). */
  plainBytes: number
  /** Direct writes made (adjacent blocks go out together, up to 1 MiB a write). */
  directWrites: number
  /** Why direct I/O is off for good ('unsupported', or the error code opening a file with it gave), if it is. */
  directOff: string | undefined
}

export interface BlockWriteThreadOptions {
  /**
   * For tests: the next `times` direct writes fail with the system error `code` (EIO, EINVAL...), or
   * write only their first `short` bytes (as a system call may).
   */
  faults?: { directWrite?: { code: string; times: number } | { short: number; times: number } }
}

export class BlockWriteThread {
  readonly #options: BlockWriteThreadOptions
  #stats: WriteThreadStats = { directBytes: 0, plainBytes: 0, directWrites: 0, directOff: undefined }
  #worker: Worker | undefined
  #nextId = 0
  readonly #waiting = new Map<number, Waiting>()
  #batch: Op[] = []
  #batchBytes = 0
  #postQueued = false
  #closed = false

  constructor(options: BlockWriteThreadOptions = {}) {
    this.#options = options
  }

  /** As of the last batch the thread finished, since the thread started (a thread that died is replaced with counts at zero). */
  get stats(): WriteThreadStats {
    return { ...this.#stats }
  }

  /**
   * Hashes `bytes`, and writes them at `position` of `fd` if the digest is `sha256`; rejects with
   * BlockMismatchError if not (nothing written). Takes the bytes and their buffer: when the buffer
   * holds little more than them (a received message: its header and the block) it moves to the
   * thread and is empty here afterwards; otherwise (a slice of a larger buffer, of Node's pool) the
   * bytes are copied.
   */
  write(fd: number, position: number, bytes: Uint8Array, sha256: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new ThreadWriteError('the cache is closing', undefined))
    if ((bytes.buffer as ArrayBuffer & { detached?: boolean }).detached === true)
      return Promise.reject(new TypeError('the bytes were handed over already (their buffer is detached)'))
    const own = bytes.buffer instanceof ArrayBuffer && bytes.buffer.byteLength - bytes.length <= MOVABLE_SLACK
    const buffer = own ? (bytes.buffer as ArrayBuffer) : copyOf(bytes)
    const offset = own ? bytes.byteOffset : 0
    const id = this.#nextId++
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject }))
    this.#batch.push({
      id,
      fd,
      position,
      buffer,
      offset,
      length: bytes.length,
      sha256: Uint8Array.from(sha256),
    })
    this.#batchBytes += bytes.length
    if (this.#batchBytes >= POST_BYTES) this.#post()
    else if (!this.#postQueued) {
      this.#postQueued = true
      setTimeout(() => this.#post(), POST_AFTER_MS)
    }
    return done
  }

  /**
   * Stops the thread; writes not done yet fail, once the thread has stopped (their descriptors may
   * be closed then, and their numbers reused, without the thread writing into another file).
   */
  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
    this.#failAll(new ThreadWriteError('the cache closed before the block was written', undefined))
  }

  #post(): void {
    this.#postQueued = false
    if (this.#batch.length === 0) return
    const batch = this.#batch
    this.#batch = []
    this.#batchBytes = 0
    try {
      const worker = this.#thread()
      // A buffer listed twice cannot be transferred: the second op gets a copy.
      const moved = new Set<ArrayBuffer>()
      for (const op of batch) {
        if (moved.has(op.buffer)) op.buffer = op.buffer.slice(0)
        moved.add(op.buffer)
      }
      worker.postMessage(batch, [...moved])
      // Pending writes keep the process alive (a cache that closes waits for them), idle it does not.
      worker.ref()
    } catch (error) {
      for (const op of batch) this.#settle(op.id, error as Error)
    }
  }

  #settle(id: number, error?: Error): void {
    const waiting = this.#waiting.get(id)
    if (waiting === undefined) return
    this.#waiting.delete(id)
    if (error === undefined) waiting.resolve()
    else waiting.reject(error)
  }

  #failAll(error: Error): void {
    for (const op of this.#batch.splice(0)) this.#settle(op.id, error)
    for (const id of [...this.#waiting.keys()]) this.#settle(id, error)
  }

  #thread(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { faults: this.#options.faults } })
    worker.unref()
    worker.on(
      'message',
      ([results, stats]: [Array<[number, number, string?, string?]>, WriteThreadStats]) => {
        this.#stats = stats
        for (const [id, status, code, message] of results) {
          if (status === 0) this.#settle(id)
          else if (status === 1) this.#settle(id, new BlockMismatchError('the block does not match its hash'))
          else this.#settle(id, new ThreadWriteError(message ?? 'the write failed', code))
        }
        if (this.#waiting.size === 0) worker.unref()
      },
    )
    const fail = (error: Error) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      this.#failAll(error)
    }
    worker.on('error', fail)
    worker.on('exit', (code) =>
      fail(
        new ThreadWriteError(`the cache's write thread stopped unexpectedly (exit code ${code})`, undefined),
      ),
    )
    this.#worker = worker
    return worker
  }
}
