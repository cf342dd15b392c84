/**
 * A few lines over IndexedDB for the peer's own small stores (identity, settings, blocks). The
 * catalog lives in y-indexeddb's own database.
 */

export class IndexedDbError extends Error {
  override name = 'IndexedDbError'
}

export const STORES = ['keys', 'blocks', 'manifests', 'pins', 'contents', 'listing'] as const
export type StoreName = (typeof STORES)[number]

const DB_NAME = 'cloudless'
// 2: pins; 3: contents (the block store's index); 4: listing (the library's sorted order, ui/listing-cache.ts)
const DB_VERSION = 4

let opened: Promise<IDBDatabase> | undefined

export function openDb(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION)
    request.onupgradeneeded = () => {
      for (const name of STORES) {
        if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name)
      }
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(new IndexedDbError(`cannot open IndexedDB: ${request.error?.message}`))
    request.onblocked = () => reject(new IndexedDbError('IndexedDB is blocked by another tab of this app'))
  })
  return opened
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(new IndexedDbError(request.error?.message ?? 'IndexedDB request failed'))
  })
}

export async function idbGet<T>(store: StoreName, key: string): Promise<T | undefined> {
  const db = await openDb()
  return (await done(db.transaction(store, 'readonly').objectStore(store).get(key))) as T | undefined
}

export async function idbPut(store: StoreName, key: string, value: unknown): Promise<void> {
  const db = await openDb()
  const tx = db.transaction(store, 'readwrite')
  tx.objectStore(store).put(value, key)
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(new IndexedDbError(tx.error?.message ?? 'IndexedDB write failed'))
    tx.onabort = () => reject(new IndexedDbError(tx.error?.message ?? 'IndexedDB write aborted'))
  })
}

/** Adds `value` under `key` only if the key is free; returns the value stored there in the end. */
export async function idbPutIfAbsent<T>(store: StoreName, key: string, value: T): Promise<T> {
  const db = await openDb()
  const tx = db.transaction(store, 'readwrite')
  const objects = tx.objectStore(store)
  const existing = (await done(objects.get(key))) as T | undefined
  if (existing !== undefined) return existing
  objects.put(value, key)
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(new IndexedDbError(tx.error?.message ?? 'IndexedDB write failed'))
  })
  return value
}

export async function idbDelete(store: StoreName, key: string): Promise<void> {
  const db = await openDb()
  const tx = db.transaction(store, 'readwrite')
  tx.objectStore(store).delete(key)
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(new IndexedDbError(tx.error?.message ?? 'IndexedDB delete failed'))
  })
}

export async function idbEntries<T>(store: StoreName): Promise<Array<[string, T]>> {
  const db = await openDb()
  const objects = db.transaction(store, 'readonly').objectStore(store)
  const [keys, values] = await Promise.all([done(objects.getAllKeys()), done(objects.getAll())])
  return keys.map((key, i) => [String(key), values[i] as T])
}

/** Deletes every key from `from` up to `to` (inclusive). */
export async function idbDeleteRange(store: StoreName, from: string, to: string): Promise<void> {
  const db = await openDb()
  const tx = db.transaction(store, 'readwrite')
  tx.objectStore(store).delete(IDBKeyRange.bound(from, to))
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(new IndexedDbError(tx.error?.message ?? 'IndexedDB delete failed'))
  })
}
