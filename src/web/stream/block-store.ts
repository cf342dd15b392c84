import { idbDeleteRange, idbEntries, idbGet, idbPut, type StoreName } from '../peer/idb.ts'

/** Where the store keeps its bytes: IndexedDB in the page, a Map in tests. */
export interface BlockStoreBackend {
  get<T>(store: StoreName, key: string): Promise<T | undefined>
  put(store: StoreName, key: string, value: unknown): Promise<void>
  deleteRange(store: StoreName, from: string, to: string): Promise<void>
  entries<T>(store: StoreName): Promise<Array<[string, T]>>
}

export const indexedDbBackend: BlockStoreBackend = {
  get: idbGet,
  put: idbPut,
  deleteRange: idbDeleteRange,
  entries: idbEntries,
}

/** What the store knows of one blob: bytes of its blocks held here, when it was last read. */
interface ContentEntry {
  bytes: number
  lastUsed: number
}

export interface BlockStoreOptions {
  /** Bytes of blocks of unprotected blobs to keep; older ones go first. */
  limitBytes: number
  /** Blobs never evicted (pinned ones). */
  isProtected(contentId: string): boolean
  /** A blob read this recently is not evicted (it may be playing). */
  graceMs?: number
  backend?: BlockStoreBackend
  now?: () => number
}

const KEY_END = '\uffff'

/**
 * The browser's verified blocks in IndexedDB (`<contentId>/<index>`), bounded: when the blocks of
 * blobs that are not pinned pass the limit, whole blobs go, least recently used first. Its index
 * (bytes and last use per blob) lives in the `contents` store.
 */
export class BlockStore {
  readonly #options: BlockStoreOptions
  readonly #db: BlockStoreBackend
  readonly #now: () => number
  readonly #contents = new Map<string, ContentEntry>()
  #evicting: Promise<void> | undefined

  private constructor(options: BlockStoreOptions) {
    this.#options = options
    this.#db = options.backend ?? indexedDbBackend
    this.#now = options.now ?? Date.now
  }

  static async open(options: BlockStoreOptions): Promise<BlockStore> {
    const store = new BlockStore(options)
    for (const [contentId, entry] of await store.#db.entries<ContentEntry>('contents')) {
      store.#contents.set(contentId, entry)
    }
    return store
  }

  /** Bytes held for blobs that are not protected. */
  get unprotectedBytes(): number {
    let total = 0
    for (const [contentId, entry] of this.#contents) {
      if (!this.#options.isProtected(contentId)) total += entry.bytes
    }
    return total
  }

  has(contentId: string): boolean {
    return this.#contents.has(contentId)
  }

  async get(contentId: string, index: number): Promise<Uint8Array | undefined> {
    const entry = this.#contents.get(contentId)
    if (entry === undefined) return undefined
    const bytes = await this.#db.get<Uint8Array>('blocks', `${contentId}/${index}`)
    if (bytes !== undefined) this.#touch(contentId, entry, 0)
    return bytes
  }

  async put(contentId: string, index: number, bytes: Uint8Array): Promise<void> {
    const entry = this.#contents.get(contentId) ?? { bytes: 0, lastUsed: this.#now() }
    this.#contents.set(contentId, entry)
    await this.#db.put('blocks', `${contentId}/${index}`, bytes)
    this.#touch(contentId, entry, bytes.length)
    this.#evictSoon()
  }

  #touch(contentId: string, entry: ContentEntry, addedBytes: number): void {
    const now = this.#now()
    // Written when it matters: new bytes, or a use a minute after the last one recorded.
    if (addedBytes === 0 && now - entry.lastUsed < 60_000) return
    entry.bytes += addedBytes
    entry.lastUsed = now
    this.#db.put('contents', contentId, { ...entry }).catch(() => {})
  }

  #evictSoon(): void {
    if (this.#evicting !== undefined || this.unprotectedBytes <= this.#options.limitBytes) return
    this.#evicting = this.#evict().finally(() => {
      this.#evicting = undefined
    })
  }

  /** Resolves when an eviction under way is done (tests). */
  async settled(): Promise<void> {
    await this.#evicting
  }

  async #evict(): Promise<void> {
    const grace = this.#options.graceMs ?? 60_000
    const now = this.#now()
    const candidates = [...this.#contents]
      .filter(([contentId, entry]) => !this.#options.isProtected(contentId) && now - entry.lastUsed > grace)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed)
    for (const [contentId] of candidates) {
      if (this.unprotectedBytes <= this.#options.limitBytes) return
      this.#contents.delete(contentId)
      await this.#db.deleteRange('blocks', `${contentId}/`, `${contentId}/${KEY_END}`)
      await this.#db.deleteRange('contents', contentId, contentId)
    }
  }
}
