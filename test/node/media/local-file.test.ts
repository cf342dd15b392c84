import { closeSync, openSync } from 'node:fs'
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DescriptorClosedError, manifestOf } from '../../../src/blobs/index.ts'
import { onLocalFileSystem } from '../../../src/node/media/file-system-kind.ts'
import { BlobChangedError, type LocalFile, openLocalBlob } from '../../../src/node/media/local-file.ts'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudless-local-file-'))
})

afterEach(async () => {
  vi.useRealTimers()
  await rm(dir, { recursive: true, force: true })
})

/** A library file as the scanner recorded it. */
async function recorded(name: string, bytes: Uint8Array): Promise<LocalFile> {
  const path = join(dir, name)
  await writeFile(path, bytes)
  const stats = await stat(path)
  return { path, size: stats.size, mtimeMs: Math.trunc(stats.mtimeMs), manifest: manifestOf(bytes).manifest }
}

function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff
  return out
}

describe('openLocalBlob', () => {
  it('serves the blocks of an unchanged file', async () => {
    const bytes = bytesOf(300_000, 1)
    const file = await recorded('a.flac', bytes)
    const reader = await openLocalBlob(file)
    try {
      expect(await reader.readBlock(0)).toEqual(Buffer.from(bytes.subarray(0, 256 * 1024)))
      expect(await reader.readBlock(1)).toEqual(Buffer.from(bytes.subarray(256 * 1024)))
    } finally {
      await reader.close()
    }
  })

  it('refuses a file changed since the scan, and closes what it opened', async () => {
    const file = await recorded('a.flac', bytesOf(1000, 1))
    await utimes(file.path, new Date(), new Date(file.mtimeMs + 5000))
    await expect(openLocalBlob(file)).rejects.toBeInstanceOf(BlobChangedError)
  })

  it('never reads through a descriptor closed while a read waited (its number may be another file now)', async () => {
    const file = await recorded('a.flac', bytesOf(1000, 1))
    const other = await recorded('b.flac', bytesOf(1000, 2))
    const reader = await openLocalBlob(file)
    // Past the recheck interval, readBlock awaits an fstat before reading: the window where the
    // blob server may close the reader (a stream ending) while the read is under way.
    const now = performance.now()
    vi.spyOn(performance, 'now').mockReturnValue(now + 60_000)
    const read = reader.readBlock(0)
    const closed = reader.close()
    const reused = openSync(other.path, 'r') // likely the very number the reader had
    try {
      await expect(read).rejects.toBeInstanceOf(DescriptorClosedError)
    } finally {
      await closed
      closeSync(reused)
    }
  })
})

describe('onLocalFileSystem', () => {
  it('calls a folder on this machine local, and a folder statfs cannot answer not local', async () => {
    // tmpfs or ext4 here; on a platform other than Linux, everything is "not local" (the pool).
    expect(await onLocalFileSystem(dir)).toBe(process.platform === 'linux')
    expect(await onLocalFileSystem(join(dir, 'no such folder'))).toBe(false)
  })
})
