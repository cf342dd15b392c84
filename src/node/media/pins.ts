import {
  type Catalog,
  findTrack,
  listAlbums,
  listTracks,
  type TrackView,
  UserData,
} from '../../crdt/index.ts'
import type { LocalFiles } from './local-file.ts'
import type { PeerFetcher } from './peer-fetcher.ts'
import type { PinCachePort } from './ports.ts'
import type { TrackStreamer } from './track-streamer.ts'

export class PinTargetError extends Error {
  override name = 'PinTargetError'
}

export interface FetchProgress {
  contentId: string
  title: string
  label: string
  blocksDone: number
  blocksTotal: number
  bytesTotal: number
  state: 'queued' | 'fetching' | 'failed'
  error?: string
}

export interface PinTarget {
  /** What the pins are called in the cache: 'track:<id>', 'album:<artist> - <title>', ... */
  label: string
  tracks: TrackView[]
}

/**
 * Keeps tracks available offline on this device: pins a track, album, artist or playlist (its
 * blobs are never evicted from the cache) and fetches what is missing in the background, a few
 * blobs at a time, from whichever devices hold them. A mirror device pins the whole library.
 */
export class PinManager {
  readonly #catalog: Catalog
  readonly #cache: PinCachePort
  readonly #local: LocalFiles
  readonly #streamer: TrackStreamer
  readonly #fetcher: PeerFetcher
  readonly #queue = new Map<string, FetchProgress>()
  readonly #controller = new AbortController()
  readonly #log: (line: string) => void
  #running = 0
  readonly #concurrency: number

  constructor(init: {
    catalog: Catalog
    cache: PinCachePort
    local: LocalFiles
    streamer: TrackStreamer
    fetcher: PeerFetcher
    log?: (line: string) => void
    concurrency?: number
  }) {
    this.#catalog = init.catalog
    this.#cache = init.cache
    this.#local = init.local
    this.#streamer = init.streamer
    this.#fetcher = init.fetcher
    this.#log = init.log ?? (() => {})
    // Several blobs at once (small files are dominated by round trips and fsyncs, not bandwidth),
    // but no more than a device serves to one peer at once (the blob protocol's limit is 4).
    this.#concurrency = init.concurrency ?? 4
  }

  /** Finds what a user means: a track id (or unique prefix), an album, an artist or a playlist. */
  resolve(target: string): PinTarget {
    const tracks = listTracks(this.#catalog)
    const wanted = target.trim()
    const lower = wanted.toLowerCase()
    const byId = tracks.filter((t) => t.id === wanted || (wanted.length >= 4 && t.id.startsWith(wanted)))
    if (byId.length === 1) return { label: `track:${byId[0]!.id}`, tracks: byId }
    if (byId.length > 1)
      throw new PinTargetError(`'${wanted}' matches ${byId.length} tracks; give more of the id`)
    const albums = listAlbums(tracks).filter((a) => a.id === wanted || a.title.toLowerCase() === lower)
    if (albums.length === 1) {
      const ids = new Set(albums[0]!.trackIds)
      return {
        label: `album:${albums[0]!.albumArtist} - ${albums[0]!.title}`,
        tracks: tracks.filter((t) => ids.has(t.id)),
      }
    }
    if (albums.length > 1) {
      throw new PinTargetError(
        `'${wanted}' names ${albums.length} albums: ${albums.map((a) => `${a.id} (${a.albumArtist})`).join(', ')}`,
      )
    }
    const byArtist = tracks.filter(
      (t) => t.artists.some((a) => a.toLowerCase() === lower) || t.albumArtist?.toLowerCase() === lower,
    )
    if (byArtist.length > 0) return { label: `artist:${wanted}`, tracks: byArtist }
    for (const playlist of UserData.of(this.#catalog).playlistRecords()) {
      if (playlist.id !== wanted && playlist.name.toLowerCase() !== lower) continue
      const items = new Set(playlist.trackIds)
      return { label: `playlist:${playlist.name}`, tracks: tracks.filter((t) => items.has(t.id)) }
    }
    throw new PinTargetError(
      `nothing in the library is called '${wanted}' (a track id, album, artist or playlist)`,
    )
  }

  /** Pins the target's tracks and starts fetching what is not on this device yet. */
  async pin(target: string): Promise<{ label: string; tracks: number; toFetch: number }> {
    const { label, tracks } = this.resolve(target)
    let toFetch = 0
    await this.#cache.pinMany(
      tracks.map((t) => t.contentId),
      label,
    )
    for (const track of tracks) if (await this.#enqueue(track, label)) toFetch++
    this.#pump()
    return { label, tracks: tracks.length, toFetch }
  }

  async unpin(target: string): Promise<{ label: string; tracks: number }> {
    const { label, tracks } = this.resolve(target)
    for (const track of tracks) {
      await this.#cache.unpin(track.contentId)
      this.#queue.delete(track.contentId)
    }
    return { label, tracks: tracks.length }
  }

  /** Pins every track of the library that this device does not hold itself (mirror mode). */
  async mirrorAll(): Promise<number> {
    let queued = 0
    const tracks = listTracks(this.#catalog)
    await this.#cache.pinMany(
      tracks.filter((t) => !this.#cache.isPinned(t.contentId)).map((t) => t.contentId),
      'mirror',
    )
    for (const track of tracks) if (await this.#enqueue(track, 'mirror')) queued++
    this.#pump()
    return queued
  }

  /** Re-queues pinned blobs that are incomplete (after a restart, or when a device comes online). */
  async resume(): Promise<void> {
    // Runs on every catalog change: look up only the incomplete pins, never list the whole library.
    for (const pin of this.#cache.pins()) {
      if (pin.complete) continue
      const trackId = this.#catalog.tracksOfContent(pin.contentId)[0]
      const track = trackId === undefined ? undefined : findTrack(this.#catalog, trackId)
      if (track !== undefined) await this.#enqueue(track, pin.label ?? 'pinned')
    }
    this.#pump()
  }

  progress(): FetchProgress[] {
    return [...this.#queue.values()].map((p) => ({ ...p }))
  }

  /** Resolves when nothing is queued or fetching (failed items stay listed). */
  async idle(signal?: AbortSignal): Promise<void> {
    while ([...this.#queue.values()].some((p) => p.state !== 'failed')) {
      signal?.throwIfAborted()
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  stop(): void {
    this.#controller.abort()
  }

  async #enqueue(track: TrackView, label: string): Promise<boolean> {
    if (this.#cache.isComplete(track.contentId)) return false
    if ((await this.#local.find(track.id, track.contentId)) !== undefined) return false
    const existing = this.#queue.get(track.contentId)
    if (existing !== undefined && existing.state !== 'failed') return false
    this.#queue.set(track.contentId, {
      contentId: track.contentId,
      title: track.title,
      label,
      blocksDone: 0,
      blocksTotal: 0,
      bytesTotal: track.size,
      state: 'queued',
    })
    return true
  }

  #pump(): void {
    while (this.#running < this.#concurrency) {
      const next = [...this.#queue.values()].find((p) => p.state === 'queued')
      if (next === undefined) return
      next.state = 'fetching'
      this.#running++
      this.#fetch(next)
        .then(() => this.#queue.delete(next.contentId))
        .catch((error: Error) => {
          next.state = 'failed'
          next.error = error.message
          this.#log(`could not fetch ${next.title}: ${error.message}`)
        })
        .finally(() => {
          this.#running--
          this.#pump()
        })
    }
  }

  async #fetch(item: FetchProgress): Promise<void> {
    const signal = this.#controller.signal
    const manifest = await this.#streamer.manifest(item.contentId, signal)
    const missing = this.#cache.missingBlocks(item.contentId)
    item.blocksTotal = Math.ceil(manifest.size / manifest.blockSize)
    item.blocksDone = item.blocksTotal - missing.length
    await this.#fetcher.download(
      item.contentId,
      manifest,
      missing,
      async (index, bytes) => {
        await this.#cache.writeBlock(item.contentId, index, bytes, signal)
        item.blocksDone++
      },
      signal,
    )
  }
}
