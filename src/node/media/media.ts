import type { Libp2p } from '@libp2p/interface'
import type { BlockCache } from '../../blobs/index.ts'
import type { Catalog } from '../../crdt/index.ts'
import type { Membership } from '../access/index.ts'
import type { BlobExchange } from '../protocols/blob/index.ts'
import type { ContentIndex } from './content-index.ts'
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
  const tracksByContent = local.tracksByContent
  const fetcher = new PeerFetcher(
    libp2p.services.blobExchange,
    (contentId) => candidatesFor(contentId, { catalog, tracksByContent, selfId, membership, libp2p }),
    (peer) => deviceLabel(catalog, peer),
  )
  const streamer = new TrackStreamer({ catalog, local, cache, fetcher })
  const pins = new PinManager({
    catalog,
    cache,
    local,
    streamer,
    fetcher,
    sessions: libp2p.services.blobExchange,
    log: init.log,
  })
  return { cache, local, fetcher, streamer, pins }
}

/**
 * Devices that may serve a blob, most likely first: connected devices that hold the file, then
 * other connected devices (their caches, a mirror), then holders that are not connected now.
 * Called once per blob a mirror fetches, so it reads the catalog's index and the open connections
 * and builds nothing else (no member records, no paths).
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
  const holders: string[] = []
  for (const trackId of ctx.tracksByContent.tracksOf(contentId)) {
    for (const device of ctx.catalog.devicesHolding(trackId))
      if (device !== ctx.selfId && !holders.includes(device) && ctx.membership.isMember(device))
        holders.push(device)
  }
  const connected: string[] = []
  for (const connection of ctx.libp2p.getConnections()) {
    if (connection.status !== 'open') continue
    const peer = connection.remotePeer.toString()
    if (!connected.includes(peer)) connected.push(peer)
  }
  const ordered = holders.filter((d) => connected.includes(d))
  for (const peer of connected)
    if (peer !== ctx.selfId && !holders.includes(peer) && ctx.membership.isMember(peer)) ordered.push(peer)
  for (const d of holders) if (!connected.includes(d)) ordered.push(d)
  return ordered
}

// Control and invisible format characters (zero-width, direction overrides): removed from names.
const CONTROL_CHARACTERS = /[\p{Cc}\p{Cf}]/gu

/**
 * A device as its user calls it, for messages: its name from the catalog, without control
 * characters (each device writes its own record), and with the end of its ID when another device
 * goes by the same name (a copied home, or a device posing as another). Undefined when unnamed.
 */
export function deviceLabel(catalog: Catalog, peer: string): string | undefined {
  const name = cleanName(catalog.devices.get(peer)?.name)
  if (!name) return undefined
  for (const [id, record] of catalog.devices.entries())
    if (id !== peer && cleanName(record.name) === name) return `${name} (…${peer.slice(-8)})`
  return name
}

/** A device's name as an error message shows it: no control characters, 64 characters at most. */
function cleanName(name: string | undefined): string | undefined {
  return name?.replace(CONTROL_CHARACTERS, '').trim().slice(0, 64)
}
