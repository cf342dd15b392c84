import { promises as fs } from 'node:fs'
import { writeFileAtomic } from '../atomic-file.ts'

/**
 * The few file operations the cache uses, in one place (tests stub them to simulate a full disk).
 * Paths rather than long-lived handles: a blob's data file is renamed (.partial -> .blob) while
 * readers may be about to open it; callers retry once the rename has settled.
 */

/**
 * Writes all of `bytes` at `offset` of an existing file (never creates it), without fsync: blocks
 * are made durable together when their blob completes (see BlockCache), and every read verifies.
 */
export async function writeAt(file: string, bytes: Uint8Array, offset: number): Promise<void> {
  const handle = await fs.open(file, 'r+')
  try {
    let done = 0
    while (done < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done)
      done += bytesWritten
    }
  } finally {
    await handle.close()
  }
}

/** fdatasync of a whole file. */
export async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+')
  try {
    await handle.datasync()
  } finally {
    await handle.close()
  }
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

export async function removeFile(file: string): Promise<void> {
  await fs.rm(file, { force: true })
}
