import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, expect, it } from 'vitest'
import * as Y from 'yjs'
import { LevelCatalogStore, type RootLevel } from '../../src/crdt/index.ts'

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cl-level-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

function openDb(): RootLevel {
  return new Level<string, unknown>(dir, { valueEncoding: 'json' }) as unknown as RootLevel
}

it('persists every change and loads it back after a restart', async () => {
  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc)
  doc.getMap('tracks').set('a', { title: 'A' })
  doc.getMap('tracks').set('b', { title: 'B' })
  await store.flush()
  // No close(): simulates a process that stops without compacting.
  await db.close()

  const db2 = openDb()
  const doc2 = new Y.Doc()
  const store2 = await LevelCatalogStore.open(db2, doc2)
  expect(doc2.getMap('tracks').toJSON()).toEqual({ a: { title: 'A' }, b: { title: 'B' } })
  await store2.close()
  await db2.close()
})

it('compacts many updates into one snapshot without losing any', async () => {
  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc, { compactAfterUpdates: 10, compactDelayMs: 0 })
  for (let i = 0; i < 35; i++) {
    doc.getMap('tracks').set(`t${i}`, i)
    await store.flush()
  }
  const keys: string[] = []
  for await (const key of db.sublevel('catalog').keys()) keys.push(key)
  expect(keys.length).toBeLessThan(12)
  await store.close()
  await db.close()

  const db2 = openDb()
  const doc2 = new Y.Doc()
  await LevelCatalogStore.open(db2, doc2)
  expect(doc2.getMap('tracks').size).toBe(35)
  await db2.close()
})

it('gives the stored snapshot and updates, which rebuild the document, pending changes included', async () => {
  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc, { compactAfterUpdates: 5, compactDelayMs: 0 })
  for (let i = 0; i < 8; i++) {
    doc.getMap('tracks').set(`t${i}`, i)
    await store.flush()
  }
  doc.getMap('tracks').delete('t3')
  doc.getMap('tracks').set('pending', 'not flushed yet')
  const parts = await store.storedState()
  expect(parts.length).toBeGreaterThan(1) // a snapshot and the updates after it
  const copy = new Y.Doc()
  for (const part of parts) Y.applyUpdate(copy, part)
  expect(copy.getMap('tracks').toJSON()).toEqual(doc.getMap('tracks').toJSON())
  expect(copy.getMap('tracks').has('t3')).toBe(false)
  await store.close()
  await db.close()
})

it('writes extra operations in the same atomic batch as the update', async () => {
  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc)
  const files = db.sublevel<string, unknown>('files', { valueEncoding: 'json' })
  doc.getMap('tracks').set('x', 1)
  await store.commit([{ type: 'put', sublevel: files, key: '/music/x.mp3', value: { trackId: 'x' } }])
  expect(await files.get('/music/x.mp3')).toEqual({ trackId: 'x' })
  await store.close()
  await db.close()
})

it('keeps changes in memory and retries when a write fails', async () => {
  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc)
  const realBatch = db.batch.bind(db)
  let fail = true
  // Simulates a full disk for one write.
  ;(db as unknown as { batch: unknown }).batch = (ops: unknown) => {
    if (fail) return Promise.reject(new Error('ENOSPC: no space left on device'))
    return realBatch(ops as never)
  }
  doc.getMap('tracks').set('kept', true)
  await expect(store.flush()).rejects.toThrow('ENOSPC')
  expect(store.lastError?.message).toContain('ENOSPC')
  fail = false
  await store.flush()
  expect(store.lastError).toBeUndefined()
  await store.close()
  await db.close()

  const db2 = openDb()
  const doc2 = new Y.Doc()
  await LevelCatalogStore.open(db2, doc2)
  expect(doc2.getMap('tracks').get('kept')).toBe(true)
  await db2.close()
})

it('applies a received catalog and stores the received bytes themselves, after what was pending', async () => {
  const other = new Y.Doc()
  for (let i = 0; i < 50; i++)
    other.getMap('tracks').set(`t${i}`, { title: `T${i}`, pad: 'x'.repeat(30_000) })
  const received = [Y.encodeStateAsUpdate(other)]
  expect(received[0]!.length).toBeGreaterThan(1024 * 1024) // big enough to be stored unmerged

  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc)
  doc.getMap('meta').set('before', 1) // pending, not flushed yet
  await store.applyReceived(received, 'pairing')
  doc.getMap('meta').set('after', 2)
  await store.flush()

  const stored: Uint8Array[] = []
  for await (const value of db.sublevel<string, Uint8Array>('catalog', { valueEncoding: 'view' }).values())
    stored.push(value)
  // The received update is stored byte for byte, between the change before it and the one after.
  expect(stored).toHaveLength(3)
  expect(Buffer.from(stored[1]!).equals(Buffer.from(received[0]!))).toBe(true)
  await db.close()

  const db2 = openDb()
  const doc2 = new Y.Doc()
  await LevelCatalogStore.open(db2, doc2)
  expect(doc2.getMap('tracks').size).toBe(50)
  expect(doc2.getMap('meta').toJSON()).toEqual({ before: 1, after: 2 })
  await db2.close()
})

it('keeps disk and memory alike when a received update cannot be applied', async () => {
  const db = openDb()
  const doc = new Y.Doc()
  const store = await LevelCatalogStore.open(db, doc, { compactDelayMs: 0 })
  doc.getMap('tracks').set('mine', 1)
  await store.flush()
  const garbage = new Uint8Array([1, 200, 7, 7, 7, 7, 7, 7])
  await expect(store.applyReceived([garbage], 'pairing')).rejects.toThrow()
  doc.getMap('tracks').set('later', 2)
  await store.close()
  await db.close()

  const db2 = openDb()
  const doc2 = new Y.Doc()
  await LevelCatalogStore.open(db2, doc2)
  expect(doc2.getMap('tracks').toJSON()).toEqual(doc.getMap('tracks').toJSON())
  await db2.close()
})
