import { close, closeSync } from 'node:fs'
import { promisify } from 'node:util'
import type { SyncWhileFast } from './sync-while-fast.ts'

const closeAsync = promisify(close)

/**
 * An open file as a plain descriptor (cheaper per call than a FileHandle, and usable by the
 * synchronous fs calls of a SyncWhileFast policy), closed only once no operation on it is left in
 * the thread pool, since its number may be reused by the next open.
 */
export class Descriptor {
  readonly fd: number
  /** Decides where close() runs. */
  readonly #io: SyncWhileFast
  readonly #inPool = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  constructor(fd: number, io: SyncWhileFast) {
    this.fd = fd
    this.#io = io
  }

  /** Throws once close() was called: the descriptor's number may belong to another file by now. */
  assertOpen(): void {
    if (this.#closing !== undefined) throw new Error('the file is closed')
  }

  /** Counts `op` (running in the thread pool on this descriptor) until it settles. */
  track<T>(op: Promise<T>): Promise<T> {
    this.#inPool.add(op)
    const done = () => this.#inPool.delete(op)
    void op.then(done, done)
    return op
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#inPool.size > 0) await Promise.allSettled([...this.#inPool])
      const fd = this.fd
      await this.#io.run(
        () => closeSync(fd),
        () => closeAsync(fd),
      )
    })()
    return this.#closing
  }
}
