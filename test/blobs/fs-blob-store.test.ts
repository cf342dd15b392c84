import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { BlobNotFoundError, CorruptBlobError, FsBlobStore } from '../../src/blobs/index.ts'

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-blobs-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

it('stores blobs once by content ID and reads them back verified', async () => {
  const store = new FsBlobStore(dir)
  const id = await store.put(Buffer.from('cover art bytes'))
  expect(await store.put(Buffer.from('cover art bytes'))).toBe(id)
  expect(Buffer.from(await store.get(id)).toString()).toBe('cover art bytes')
  const leftovers = (await fs.readdir(path.dirname(store.pathOf(id)))).filter((n) => n.endsWith('.tmp'))
  expect(leftovers).toEqual([])
})

it('detects a blob corrupted on disk, removes it and says so', async () => {
  const store = new FsBlobStore(dir)
  const id = await store.put(Buffer.from('original'))
  await fs.writeFile(store.pathOf(id), 'tampered')
  await expect(store.get(id)).rejects.toThrow(CorruptBlobError)
  expect(await store.has(id)).toBe(false)
  await expect(store.get(id)).rejects.toThrow(BlobNotFoundError)
})
