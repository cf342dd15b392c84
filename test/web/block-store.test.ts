import { describe, expect, it } from 'vitest'
import type { StoreName } from '../../src/web/peer/idb.ts'
import { BlockStore, type BlockStoreBackend } from '../../src/web/stream/block-store.ts'

/** IndexedDB's part as sorted Maps: keys compare as strings, as IndexedDB compares them. */
function memoryBackend(): BlockStoreBackend & { keys(store: StoreName): string[] } {
  const stores = new Map<StoreName, Map<string, unknown>>()
  const of = (name: StoreName) => {
    const store = stores.get(name) ?? new Map<string, unknown>()
    stores.set(name, store)
    return store
  }
  return {
    get: async <T>(name: StoreName, key: string) => of(name).get(key) as T | undefined,
    put: async (name, key, value) => {
      of(name).set(key, value)
    },
    deleteRange: async (name, from, to) => {
      for (const key of [...of(name).keys()]) if (key >= from && key <= to) of(name).delete(key)
    },
    entries: async <T>(name: StoreName) => [...of(name)] as Array<[string, T]>,
    keys: (name) => [...of(name).keys()].sort(),
  }
}

const block = (size: number) => new Uint8Array(size)

describe('the browser block store', () => {
  it('evicts whole blobs, least recently used first, when unpinned blocks pass the limit', async () => {
    let now = 0
    const backend = memoryBackend()
    const pinned = new Set(['pinned'])
    const store = await BlockStore.open({
      limitBytes: 300,
      isProtected: (id) => pinned.has(id),
      graceMs: 10,
      backend,
      now: () => now,
    })
    await store.put('pinned', 0, block(500))
    await store.put('old', 0, block(100))
    await store.put('old', 1, block(100))
    now = 100
    await store.put('newer', 0, block(100))
    expect(store.unprotectedBytes).toBe(300)
    now = 200
    await store.put('newest', 0, block(100))
    await store.settled()
    // 'old' went (both its blocks), 'newer' and 'newest' stay, the pinned blob is never counted.
    expect(backend.keys('blocks')).toEqual(['newer/0', 'newest/0', 'pinned/0'])
    expect(store.unprotectedBytes).toBe(200)
    expect(await store.get('old', 0)).toBeUndefined()
    expect(await store.get('pinned', 0)).toHaveLength(500)
  })

  it('keeps a blob read within the grace period (it may be playing), and its index across reopening', async () => {
    let now = 0
    const backend = memoryBackend()
    const options = { limitBytes: 100, isProtected: () => false, graceMs: 1000, backend, now: () => now }
    const store = await BlockStore.open(options)
    await store.put('playing', 0, block(100))
    now = 500
    await store.put('next', 0, block(100))
    await store.settled()
    expect(backend.keys('blocks')).toEqual(['next/0', 'playing/0'])
    now = 2000
    const reopened = await BlockStore.open(options)
    expect(reopened.unprotectedBytes).toBe(200)
    await reopened.put('third', 0, block(50))
    await reopened.settled()
    expect(backend.keys('blocks')).toEqual(['third/0'])
  })
})
