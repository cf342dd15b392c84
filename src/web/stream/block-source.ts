import { decodeManifest, encodeManifest, type Manifest, verifyBlock } from '../../blobs/index.ts'
import { idbGet, idbPut } from '../peer/idb.ts'
import type { WebPeer } from '../peer/peer.ts'
import type { BlockStore } from './block-store.ts'

export class TrackNotFoundError extends Error {
  override name = 'TrackNotFoundError'
}

export class NoHolderError extends Error {
  override name = 'NoHolderError'
}

export class CoverNotFoundError extends Error {
  override name = 'CoverNotFoundError'
}

/** A blob ready to be read: a track's file or a cover image. */
export interface OpenedTrack {
  /** The track id, or the cover id for a cover. */
  trackId: string
  contentId: string
  mime: string
  manifest: Manifest
  /** Devices to fetch from, connected ones first. Throws NoHolderError when there is none. */
  holders(): string[]
}

/** Blocks fetched per request when one is missing: a little read-ahead for playback. */
const READ_AHEAD_BLOCKS = 8
const FETCH_TIMEOUT_MS = 60_000

/**
 * A track's bytes for the page: manifest and blocks from this browser's IndexedDB, else from a
 * device that holds the file (blob exchange; every block verified against the manifest, and the
 * manifest against the content ID, before use). Fetched blocks are kept in IndexedDB.
 */
export class BlockSource {
  readonly #peer: WebPeer
  readonly #manifests = new Map<string, Promise<Manifest>>()
  /** Blocks on their way: `${contentId}/${index}` -> bytes. */
  readonly #pending = new Map<string, Promise<Uint8Array>>()

  /** coverId -> tracks showing it; built when first needed, dropped when the catalog changes. */
  #coverTracks: Map<string, string[]> | undefined

  readonly #store: BlockStore

  constructor(peer: WebPeer, store: BlockStore) {
    this.#peer = peer
    this.#store = store
    peer.catalog.doc.on('update', () => {
      this.#coverTracks = undefined
    })
  }

  async open(trackId: string, signal?: AbortSignal): Promise<OpenedTrack> {
    const record = this.#peer.catalog.getTrack(trackId)
    if (record === undefined) throw new TrackNotFoundError(`no track ${trackId} in the library`)
    const holders = () => this.#holders([trackId], `track ${trackId}`)
    const manifest = await this.#manifest(record.contentId, holders, signal)
    return {
      trackId,
      contentId: record.contentId,
      mime: record.mime ?? 'application/octet-stream',
      manifest,
      holders,
    }
  }

  /** Cover art (its id is its content ID), from a device that holds a track showing it. */
  async openCover(coverId: string, signal?: AbortSignal): Promise<OpenedTrack> {
    const record = this.#peer.catalog.getCover(coverId)
    if (record === undefined) throw new CoverNotFoundError(`no cover ${coverId} in the library`)
    const holders = () => this.#holders(this.#tracksWithCover(coverId), `cover ${coverId}`)
    const manifest = await this.#manifest(coverId, holders, signal)
    return { trackId: coverId, contentId: coverId, mime: record.mime, manifest, holders }
  }

  #tracksWithCover(coverId: string): string[] {
    if (this.#coverTracks === undefined) {
      const index = new Map<string, string[]>()
      for (const [id, record] of this.#peer.catalog.trackEntries()) {
        if (record.cover === null) continue
        const list = index.get(record.cover)
        if (list === undefined) index.set(record.cover, [id])
        else if (list.length < 8) list.push(id)
      }
      this.#coverTracks = index
    }
    return this.#coverTracks.get(coverId) ?? []
  }

  /** Block `index` of an opened track, verified. */
  async block(track: OpenedTrack, index: number): Promise<Uint8Array> {
    const key = `${track.contentId}/${index}`
    const pending = this.#pending.get(key)
    if (pending !== undefined) return pending
    const stored = await this.#store.get(track.contentId, index)
    if (stored !== undefined && verifyBlock(track.manifest, index, stored)) return stored
    // Not tied to the caller's signal: other requests (read-ahead, a second tab) may wait for the
    // same blocks; a stalled device is given up on after a while instead.
    this.#fetchRange(track, index, AbortSignal.timeout(FETCH_TIMEOUT_MS))
    return this.#pending.get(key)!
  }

  /** Fetches every block of a track that is not stored yet; reports blocks done and total. */
  async fetchAll(trackId: string, onProgress: (done: number, total: number) => void): Promise<void> {
    const track = await this.open(trackId, AbortSignal.timeout(FETCH_TIMEOUT_MS))
    const total = Math.ceil(track.manifest.size / track.manifest.blockSize)
    for (let index = 0; index < total; index++) {
      await this.block(track, index)
      onProgress(index + 1, total)
    }
  }

  #holders(trackIds: string[], what: string): string[] {
    const devices = new Set(trackIds.flatMap((id) => this.#peer.catalog.locationsOf(id).map((l) => l.device)))
    const holders = this.#peer.devicesHolding([...devices])
    if (holders.length === 0) throw new NoHolderError(`no other device holds ${what}`)
    return holders
  }

  #manifest(contentId: string, holders: () => string[], signal?: AbortSignal): Promise<Manifest> {
    let promise = this.#manifests.get(contentId)
    if (promise === undefined) {
      promise = this.#loadManifest(contentId, holders, signal)
      this.#manifests.set(contentId, promise)
      promise.catch(() => this.#manifests.delete(contentId))
    }
    return promise
  }

  async #loadManifest(contentId: string, holders: () => string[], signal?: AbortSignal): Promise<Manifest> {
    const stored = await idbGet<Uint8Array>('manifests', contentId)
    if (stored !== undefined) return decodeManifest(stored)
    let lastError: Error | undefined
    for (const holder of holders()) {
      try {
        const manifest = await this.#peer.libp2p.services.blobExchange.fetchManifest(holder, contentId, {
          signal,
        })
        await idbPut('manifests', contentId, encodeManifest(manifest))
        return manifest
      } catch (error) {
        if (signal?.aborted) throw error
        lastError = error as Error
      }
    }
    throw new NoHolderError(`no device could send ${contentId}: ${lastError?.message}`, {
      cause: lastError,
    })
  }

  /** Fetches blocks `first`.. (a few) from a holder; each pending entry settles as its block arrives. */
  #fetchRange(track: OpenedTrack, first: number, signal?: AbortSignal): void {
    const total = Math.ceil(track.manifest.size / track.manifest.blockSize)
    let count = 0
    const settle = new Map<number, { resolve(b: Uint8Array): void; reject(e: Error): void }>()
    for (let i = first; i < Math.min(total, first + READ_AHEAD_BLOCKS); i++) {
      const key = `${track.contentId}/${i}`
      if (i > first && this.#pending.has(key)) break
      const promise = new Promise<Uint8Array>((resolve, reject) => settle.set(i, { resolve, reject }))
      promise.catch(() => {})
      this.#pending.set(key, promise)
      void promise.finally(() => this.#pending.delete(key))
      count++
    }
    void this.#download(track, first, count, settle, signal)
  }

  async #download(
    track: OpenedTrack,
    first: number,
    count: number,
    settle: Map<number, { resolve(b: Uint8Array): void; reject(e: Error): void }>,
    signal?: AbortSignal,
  ): Promise<void> {
    let lastError: Error = new NoHolderError(`no device holds track ${track.trackId}`)
    let holders: string[] = []
    try {
      holders = track.holders()
    } catch (error) {
      lastError = error as Error
    }
    for (const holder of holders) {
      try {
        const blocks = this.#peer.libp2p.services.blobExchange.fetchBlocks(
          holder,
          track.contentId,
          track.manifest,
          first + (count - settle.size),
          settle.size,
          { signal },
        )
        for await (const { index, bytes } of blocks) {
          settle.get(index)?.resolve(bytes)
          settle.delete(index)
          this.#store.put(track.contentId, index, bytes).catch(() => {})
        }
        if (settle.size === 0) return
      } catch (error) {
        lastError = error as Error
        if (signal?.aborted) break
      }
    }
    for (const { reject } of settle.values()) reject(lastError)
  }
}
