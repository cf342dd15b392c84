import { Worker } from 'node:worker_threads'

/**
 * fdatasync of many files through one worker thread, a batch at a time: while one batch is being
 * synced, the next requests gather into the next batch.
 *
 * Why not libuv's thread pool (fs.fdatasync): each call there wakes a pool thread and hands the
 * result back to the event loop, and on a machine whose cores are both busy (a mirror keeps sender
 * and receiver busy) the woken thread takes the main thread's core for a while: measured while
 * mirroring 10k small tracks to tmpfs (where fdatasync itself costs nothing), each call cost the
 * receiver's main thread ~50 µs, 0.5 s in all. Here the main thread posts one message per batch:
 * the requests made while the previous batch was being synced, or over GATHER_MS.
 */
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads')
const { fdatasyncSync } = process.getBuiltinModule('node:fs')
parentPort.on('message', (fds) => {
  const failures = []
  for (let i = 0; i < fds.length; i++) {
    try {
      fdatasyncSync(fds[i])
    } catch (error) {
      failures.push([i, error.code, error.message])
    }
  }
  parentPort.postMessage(failures)
})
`

/**
 * Requests arriving while the thread is idle wait this long for others (a batch is one message):
 * when fdatasync costs nothing (tmpfs), a message per request cost the receiver's main thread
 * ~70 µs each (0.7 s in a 10k-track mirror), waking the thread every time.
 */
const GATHER_MS = 2

interface Request {
  fd: number
  resolve: () => void
  reject: (error: Error) => void
}

/** A failed fdatasync, with the system error's code (ENOSPC, EIO...). */
export class DataSyncError extends Error {
  override name = 'DataSyncError'
  readonly code: string | undefined
  constructor(message: string, code: string | undefined) {
    super(message)
    this.code = code
  }
}

export class DataSyncThread {
  #worker: Worker | undefined
  #queued: Request[] = []
  #syncing: Request[] | undefined
  #gathering: NodeJS.Timeout | undefined

  /** Resolves once `fd`'s data is durable. The descriptor must stay open until then. */
  sync(fd: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ fd, resolve, reject })
      if (this.#syncing === undefined && this.#gathering === undefined) {
        this.#gathering = setTimeout(() => this.#post(), GATHER_MS)
      }
    })
  }

  /** Stops the thread (requests still waiting fail). */
  async close(): Promise<void> {
    clearTimeout(this.#gathering)
    this.#gathering = undefined
    const stopped = new DataSyncError('the fdatasync thread was stopped', undefined)
    for (const request of this.#queued.splice(0)) request.reject(stopped)
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  #post(): void {
    clearTimeout(this.#gathering)
    this.#gathering = undefined
    if (this.#queued.length === 0) return
    const batch = this.#queued
    this.#queued = []
    this.#syncing = batch
    this.#thread().postMessage(batch.map((request) => request.fd))
  }

  #thread(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    // Never what keeps the process alive: a sync waited for keeps its caller's work pending.
    worker.unref()
    worker.on('message', (failures: Array<[number, string | undefined, string]>) => {
      const batch = this.#syncing ?? []
      this.#syncing = undefined
      const failed = new Map(failures.map(([index, code, message]) => [index, { code, message }]))
      batch.forEach((request, index) => {
        const failure = failed.get(index)
        if (failure === undefined) request.resolve()
        else request.reject(new DataSyncError(`fdatasync failed: ${failure.message}`, failure.code))
      })
      if (this.#queued.length > 0) this.#post()
    })
    const fail = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined
      for (const request of [...(this.#syncing ?? []), ...this.#queued.splice(0)]) request.reject(error)
      this.#syncing = undefined
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new DataSyncError(`the fdatasync thread exited (${code})`, undefined)))
    this.#worker = worker
    return worker
  }
}
