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
 * Blocks are written in the order they were handed over. The descriptor must stay open until the
 * write settles (Descriptor.track).
 */
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads')
const { createHash } = process.getBuiltinModule('node:crypto')
const { writeSync } = process.getBuiltinModule('node:fs')
parentPort.on('message', (ops) => {
  const results = []
  for (const op of ops) {
    const bytes = new Uint8Array(op.buffer, op.offset, op.length)
    const digest = createHash('sha256').update(bytes).digest()
    if (!digest.equals(op.sha256)) {
      results.push([op.id, 1])
      continue
    }
    try {
      for (let done = 0; done < bytes.length; )
        done += writeSync(op.fd, bytes, done, bytes.length - done, op.position + done)
      results.push([op.id, 0])
    } catch (error) {
      results.push([op.id, 2, error.code, error.message])
    }
  }
  parentPort.postMessage(results)
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

export class BlockWriteThread {
  #worker: Worker | undefined
  #nextId = 0
  readonly #waiting = new Map<number, Waiting>()
  #batch: Op[] = []
  #batchBytes = 0
  #postQueued = false
  #closed = false

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
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    worker.unref()
    worker.on('message', (results: Array<[number, number, string?, string?]>) => {
      for (const [id, status, code, message] of results) {
        if (status === 0) this.#settle(id)
        else if (status === 1) this.#settle(id, new BlockMismatchError('the block does not match its hash'))
        else this.#settle(id, new ThreadWriteError(message ?? 'the write failed', code))
      }
      if (this.#waiting.size === 0) worker.unref()
    })
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
