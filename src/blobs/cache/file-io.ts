import {
  close,
  closeSync,
  constants,
  fdatasync,
  promises as fs,
  mkdirSync,
  open,
  openSync,
  read,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { promisify } from 'node:util'
import { writeFileAtomic } from '../atomic-file.ts'
import { Descriptor } from '../descriptor.ts'
import { SyncWhileFast } from '../sync-while-fast.ts'

/**
 * The few file operations the cache uses, in one place (tests stub them to simulate a full disk).
 * A blob's data file is written through one handle held while the blob is being written (opening
 * and closing it per block cost more than the write); reads go by path, since the file is renamed
 * (.partial -> .blob) while readers may be about to open it, and callers retry once it has settled.
 *
 * Opens, reads, writes and closes of data files run synchronously while the page cache takes them at
 * once, in libuv's thread pool while the disk is slow (SyncWhileFast): a mirror of 10k small tracks
 * spent ~150 µs of the receiver's main thread per blob handing the open, the write and the close of
 * its data file to the pool and taking the results back. The blocks of large blobs too: handing a
 * 256 KiB write to the pool, meant to overlap it with the decryption of the next block, stalled the
 * main thread ~150 µs per write (the woken pool thread takes its core on a busy 2-core machine),
 * longer than the write itself; 1 GiB in 5 MB files, 2 runs each: to tmpfs 231 and 206 MB/s against
 * 187 and 184 through the pool, to disk 199 and 229 against 202 and 185, and ~0.7 CPU-s less for the
 * receiver. fdatasync always goes to the pool: it waits for the disk.
 */
const dataFileIo = new SyncWhileFast()
/**
 * Creating a data file allocates an inode: ~10-30 µs on tmpfs or a fresh ext4, 0.2-1.2 ms of kernel
 * work on this machine's ext4 after many deletions (perf: find_inode_bit, recently_deleted). Work of
 * that size is better done in the pool, beside the main thread's decryption and hashing, so creates
 * leave the main thread at an eighth of the general threshold (0.25 ms on average).
 */
const dataFileCreates = new SyncWhileFast({ slowMs: 0.25 })

const openAsync = promisify(open)
const readAsync = promisify(read)
const closeAsync = promisify(close)
const fdatasyncAsync = promisify(fdatasync)

/** An open data file. */
export type DataHandle = Descriptor

/** Opens a data file for reading and writing, creating it (empty) unless it exists. */
export async function openDataFile(file: string): Promise<DataHandle> {
  return Descriptor.open(file, constants.O_RDWR | constants.O_CREAT, dataFileIo, {
    mode: 0o644,
    openIo: dataFileCreates,
  })
}

/**
 * Writes all of `bytes` at `offset`, without fsync: blocks are made durable together when their
 * blob completes (see BlockCache), and every read verifies.
 */
export async function writeAt(handle: DataHandle, bytes: Uint8Array, offset: number): Promise<void> {
  for (let done = 0; done < bytes.length; )
    done += await handle.write(bytes, done, bytes.length - done, offset + done)
}

/**
 * fdatasync through an open handle, in libuv's thread pool (it waits for the disk). Tried and
 * dropped: one worker thread syncing batches (a message per batch instead of a pool call per file):
 * on tmpfs it saved the receiver's main thread ~0.4 s per 10k files, but to disk it syncs one file
 * after another where the pool runs four at once, and blobs waited in line: 10k mirror to disk
 * 115-116 MB/s against 126-159 through the pool.
 */
export async function syncData(handle: DataHandle): Promise<void> {
  handle.assertOpen()
  await handle.track(fdatasyncAsync(handle.fd))
}

/** Reads up to `length` bytes at `offset`; fewer at the end of the file. */
export async function readAt(file: string, length: number, offset: number): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(length)
  const done = await dataFileIo.run(
    () => {
      const fd = openSync(file, 'r')
      try {
        let done = 0
        while (done < length) {
          const bytesRead = readSync(fd, buffer, done, length - done, offset + done)
          if (bytesRead === 0) break
          done += bytesRead
        }
        return done
      } finally {
        closeSync(fd)
      }
    },
    async () => {
      const fd = await openAsync(file, 'r')
      try {
        let done = 0
        while (done < length) {
          const bytesRead = (await readAsync(fd, buffer, done, length - done, offset + done)).bytesRead
          if (bytesRead === 0) break
          done += bytesRead
        }
        return done
      } finally {
        await closeAsync(fd)
      }
    },
  )
  return done === length ? buffer : buffer.subarray(0, done)
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
