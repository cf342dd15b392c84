import type { Libp2p } from '@libp2p/interface'
import type { BlockCache } from '../../blobs/index.ts'
import type { Catalog } from '../../crdt/index.ts'
import type { Membership } from '../access/index.ts'
import type { BlobExchange } from '../protocols/blob/index.ts'
import type { LocalFiles } from './local-file.ts'
import { PeerFetcher } from './peer-fetcher.ts'
import { PinManager } from './pins.ts'
import { TrackStreamer } from './track-streamer.ts'

/** The media side of a running node: streaming, fetching, the cache and pins, wired together. */
export interface Media {
  cache: BlockCache
  local: LocalFiles
  fetcher: PeerFetcher
  streamer: TrackStreamer
  pins: PinManager
}

export function createMedia(init: {
  catalog: Catalog
  selfId: string
  membership: Membership
  libp2p: Libp2p<{ blobExchange: BlobExchange }>
  cache: BlockCache
  local: LocalFiles
  log: (line: string) => void
}): Media {
  const { catalog, selfId, membership, libp2p, cache, local } = init
  const tracksByContent = new ContentIndex(catalog)
  const fetcher = new PeerFetcher(libp2p.services.blobExchange, (contentId) =>
    candidatesFor(contentId, { catalog, tracksByContent, selfId, membership, libp2p }),
  )
  const streamer = new TrackStreamer({ catalog, local, cache, fetcher })
  const pins = new PinManager({ catalog, cache, local, streamer, fetcher, log: init.log })
  return { cache, local, fetcher, streamer, pins }
}

/** contentId -> track ids, rebuilt lazily after the tracks change (a fetch must not scan 100k tracks). */
class ContentIndex {
  readonly #catalog: Catalog
  #index: Map<string, string[]> | undefined

  constructor(catalog: Catalog) {
    this.#catalog = catalog
    catalog.tracks.observe(() => {
      this.#index = undefined
    })
  }

  tracksOf(contentId: string): string[] {
    if (this.#index === undefined) {
      this.#index = new Map()
      for (const [id, record] of this.#catalog.trackEntries()) {
        const list = this.#index.get(record.contentId)
        if (list === undefined) this.#index.set(record.contentId, [id])
        else list.push(id)
      }
    }
    return this.#index.get(contentId) ?? []
  }
}

/**
 * Devices that may serve a blob, most likely first: connected devices that hold the file, then
 * other connected devices (their caches, a mirror), then holders that are not connected now.
 */
function candidatesFor(
  contentId: string,
  ctx: {
    catalog: Catalog
    tracksByContent: ContentIndex
    selfId: string
    membership: Membership
    libp2p: Libp2p
  },
): string[] {
  const connected = new Set(
    ctx.libp2p
      .getConnections()
      .filter((c) => c.status === 'open')
      .map((c) => c.remotePeer.toString()),
  )
  const holders = new Set<string>()
  for (const trackId of ctx.tracksByContent.tracksOf(contentId)) {
    for (const location of ctx.catalog.locationsOf(trackId)) holders.add(location.device)
  }
  holders.delete(ctx.selfId)
  const members = ctx.membership.others().map((m) => m.deviceId)
  const ordered = [
    ...[...holders].filter((d) => connected.has(d)),
    ...members.filter((d) => connected.has(d) && !holders.has(d)),
    ...[...holders].filter((d) => !connected.has(d)),
  ]
  return ordered.filter((d) => ctx.membership.isMember(d))
}
