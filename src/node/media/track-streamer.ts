import { createReadStream } from 'node:fs'
import { blockCount, type Manifest } from '../../blobs/index.ts'
import type { Catalog, TrackRecord } from '../../crdt/index.ts'
import type { LocalFile, LocalFiles } from './local-file.ts'
import type { PeerFetcher } from './peer-fetcher.ts'
import type { CachePort } from './ports.ts'

export class TrackNotFoundError extends Error {
  override name = 'TrackNotFoundError'
}

export interface OpenedTrack {
  trackId: string
  record: TrackRecord
  size: number
  /** Where the bytes come from: this device's own file, or the cache and other devices. */
  source: 'local' | 'network'
  /** The bytes start..end (inclusive). */
  read(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>
}

/** Blocks fetched at once from another device when a player reads ahead. */
const FETCH_RUN = 8

/**
 * Bytes of any track of the library, wherever they are: this device's own file (served from its
 * original path), the block cache, or other devices (fetched block by block, verified, and cached
 * on the way). The HTTP /stream route and `cloudless get` read through it.
 */
export class TrackStreamer {
  readonly #catalog: Catalog
  readonly #local: LocalFiles
  readonly #cache: CachePort
  readonly #fetcher: PeerFetcher

  constructor(init: { catalog: Catalog; local: LocalFiles; cache: CachePort; fetcher: PeerFetcher }) {
    this.#catalog = init.catalog
    this.#local = init.local
    this.#cache = init.cache
    this.#fetcher = init.fetcher
  }

  async open(trackId: string, signal?: AbortSignal): Promise<OpenedTrack> {
    const record = this.#catalog.getTrack(trackId)
    if (record === undefined) throw new TrackNotFoundError(`no track ${trackId}`)
    const local = await this.#local.find(trackId, record.contentId)
    if (local !== undefined) {
      return {
        trackId,
        record,
        size: local.size,
        source: 'local',
        read: (s, e, sig) => readLocal(local, s, e, sig),
      }
    }
    const manifest = await this.manifest(record.contentId, signal)
    this.#cache.touch(record.contentId)
    return {
      trackId,
      record,
      size: manifest.size,
      source: 'network',
      read: (start, end, sig) => this.#readBlocks(record.contentId, manifest, start, end, sig),
    }
  }

  /** The blob's manifest: from the cache, else from a device that holds it (verified there). */
  async manifest(contentId: string, signal?: AbortSignal): Promise<Manifest> {
    const cached = await this.#cache.getManifest(contentId)
    if (cached !== undefined) return cached
    const manifest = await this.#fetcher.manifest(contentId, signal)
    await this.#cache.putManifest(contentId, manifest)
    return manifest
  }

  async *#readBlocks(
    contentId: string,
    manifest: Manifest,
    start: number,
    end: number,
    signal?: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    const { blockSize } = manifest
    const firstBlock = Math.floor(start / blockSize)
    const lastBlock = Math.min(Math.floor(end / blockSize), blockCount(manifest.size, blockSize) - 1)
    const slice = (index: number, bytes: Uint8Array) => {
      const blockStart = index * blockSize
      const from = Math.max(0, start - blockStart)
      const to = Math.min(bytes.length, end - blockStart + 1)
      return bytes.subarray(from, to)
    }
    let index = firstBlock
    while (index <= lastBlock) {
      signal?.throwIfAborted()
      const cached = this.#cache.hasBlock(contentId, index)
        ? await this.#cache.readBlock(contentId, index, signal)
        : undefined
      if (cached !== undefined) {
        yield slice(index, cached)
        index++
        continue
      }
      // A run of missing blocks: fetch them together, cache each, pass each on as it arrives.
      let count = 1
      while (
        count < FETCH_RUN &&
        index + count <= lastBlock &&
        !this.#cache.hasBlock(contentId, index + count)
      )
        count++
      for await (const block of this.#fetcher.blocks(contentId, manifest, index, count, signal)) {
        // The block is verified already: pass it on while the cache writes it. A cache that cannot
        // write (a full disk) must not stop the music.
        const caching = this.#cache.writeBlock(contentId, block.index, block.bytes, signal).catch(() => {})
        yield slice(block.index, block.bytes)
        await caching
      }
      index += count
    }
  }
}

async function* readLocal(file: LocalFile, start: number, end: number, signal?: AbortSignal) {
  for await (const chunk of createReadStream(file.path, { start, end, signal, highWaterMark: 256 * 1024 })) {
    yield chunk as Buffer
  }
}
