import {
  close,
  closeSync,
  fstat,
  fstatSync,
  open,
  openSync,
  read,
  readSync,
  type Stats,
  write,
  writeSync,
} from 'node:fs'
import { promisify } from 'node:util'
import type { IoPolicy } from './sync-while-fast.ts'

const openAsync = promisify(open)
const closeAsync = promisify(close)
const fstatAsync = promisify(fstat)
const readAsync = promisify(read)
const writeAsync = promisify(write)

/** A call on a descriptor after its close() began: its number may belong to another file by now. */
export class DescriptorClosedError extends Error {
  override name = 'DescriptorClosedError'
}

/**
 * An open file as a plain descriptor (cheaper per call than a FileHandle), each call run where its
 * policy says (SyncWhileFast: synchronously while the page cache answers, in libuv's thread pool
 * while the disk is slow; or always the pool). Every call checks that close() has not begun (a
 * caller that awaited something since its last call may find the file closed), and close() waits
 * for the calls still in the pool: the descriptor's number may be reused by the next open.
 */
export class Descriptor {
  readonly fd: number
  readonly #io: IoPolicy
  readonly #inPool = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  constructor(fd: number, io: IoPolicy) {
    this.fd = fd
    this.#io = io
  }

  /**
   * Opens `path` with `flags` (`mode` when it creates the file). The open runs where `openIo` says
   * (creating a file may cost more than the calls after it), the calls on the descriptor where `io` says.
   */
  static async open(
    path: string,
    flags: number | string,
    io: IoPolicy,
    options: { mode?: number; openIo?: IoPolicy } = {},
  ): Promise<Descriptor> {
    const { mode, openIo = io } = options
    const fd = await openIo.run(
      () => openSync(path, flags, mode),
      () => openAsync(path, flags, mode),
    )
    return new Descriptor(fd, io)
  }

  /** Throws DescriptorClosedError once close() was called. */
  assertOpen(): void {
    if (this.#closing !== undefined) throw new DescriptorClosedError('the file is closed')
  }

  /** Reads up to `length` bytes into `buffer` at `offset`, from `position`; 0 at the end of the file. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): number | Promise<number> {
    this.assertOpen()
    const fd = this.fd
    return this.#io.run(
      () => readSync(fd, buffer, offset, length, position),
      async () => (await this.track(readAsync(fd, buffer, offset, length, position))).bytesRead,
    )
  }

  /** Writes up to `length` bytes of `buffer` from `offset`, at `position`; how many it wrote. */
  write(buffer: Uint8Array, offset: number, length: number, position: number): number | Promise<number> {
    this.assertOpen()
    const fd = this.fd
    return this.#io.run(
      () => writeSync(fd, buffer, offset, length, position),
      async () => (await this.track(writeAsync(fd, buffer, offset, length, position))).bytesWritten,
    )
  }

  stat(): Stats | Promise<Stats> {
    this.assertOpen()
    const fd = this.fd
    return this.#io.run(
      () => fstatSync(fd),
      () => this.track(fstatAsync(fd)),
    )
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
