import {
  closeSync,
  constants,
  promises as fs,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { writeFileAtomic } from '../atomic-file.ts'

/**
 * The few file operations the cache uses, in one place (tests stub them to simulate a full disk).
 * A blob's data file is written through one handle held while the blob is being written (opening
 * and closing it per block cost more than the write); reads go by path, since the file is renamed
 * (.partial -> .blob) while readers may be about to open it, and callers retry once it has settled.
 */

export type DataHandle = fs.FileHandle

/** Opens a data file for reading and writing, creating it (empty) unless it exists. */
export function openDataFile(file: string): Promise<DataHandle> {
  return fs.open(file, constants.O_RDWR | constants.O_CREAT, 0o644)
}

/**
 * Writes all of `bytes` at `offset`, without fsync: blocks are made durable together when their
 * blob completes (see BlockCache), and every read verifies.
 */
export async function writeAt(handle: DataHandle, bytes: Uint8Array, offset: number): Promise<void> {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done)
    done += bytesWritten
  }
}

/** fdatasync through an open handle. */
export async function syncData(handle: DataHandle): Promise<void> {
  await handle.datasync()
}

/** Reads up to `length` bytes at `offset`; fewer at the end of the file. */
export async function readAt(file: string, length: number, offset: number): Promise<Uint8Array> {
  const handle = await fs.open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, offset + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return done === length ? buffer : buffer.subarray(0, done)
  } finally {
    await handle.close()
  }
}

/** Makes renames and creations in `dir` durable. Some file systems refuse to fsync a folder; fine. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {}
}

/** Creates an empty file unless it exists. */
export async function createFile(file: string): Promise<void> {
  try {
    await (await fs.open(file, 'wx')).close()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

/** Temp file, fsync, rename, fsync folder: readers and crashes see the old content or the new. */
export function replaceFile(
  target: string,
  data: Uint8Array | string,
  signal?: AbortSignal,
  options: { durable?: boolean } = {},
): Promise<void> {
  return writeFileAtomic(target, data, { signal, durable: options.durable })
}

/**
 * Writes a small file that its reader verifies (a manifest, checked against its content ID whenever
 * it is read), synchronously and in place: no temp file and rename, since a crash mid-write leaves a
 * file that fails the check and is dropped with its blob, never a wrong byte. Synchronous: three
 * system calls of some microseconds each, where the asynchronous version waited its turn in libuv's
 * thread pool each time, behind block writes and fsyncs (measured while mirroring 10k tracks: 14 ms
 * of a blob's 64 ms). Not fsynced: a power cut may lose it, with the same outcome.
 */
export function writeCheckedFileNow(target: string, data: Uint8Array): void {
  try {
    const fd = openSync(target, 'w', 0o644)
    try {
      let done = 0
      while (done < data.length) done += writeSync(fd, data, done, data.length - done)
    } finally {
      closeSync(fd)
    }
  } catch (error) {
    try {
      rmSync(target, { force: true })
    } catch {} // the write's error is the one to report
    throw error
  }
}

/** A folder (and its parents) unless it exists, done synchronously, as writeCheckedFileNow. */
export function makeFolderNow(dir: string): void {
  mkdirSync(dir, { recursive: true })
}

/** A rename, done synchronously: one metadata update, cheaper than a turn in the thread pool. */
export function renameNow(from: string, to: string): void {
  renameSync(from, to)
}

export async function removeFile(file: string): Promise<void> {
  await fs.rm(file, { force: true })
}
