import { multiaddr } from '@multiformats/multiaddr'
import type * as Y from 'yjs'
import { NETWORK_SETTINGS_MAP } from './constants.ts'
import { BadRelayAddressError } from './errors.ts'

/**
 * The library's relays: a setting in the catalog (its own small map, `network` -> 'relays', a JSON
 * array of multiaddrs), so `cloudless start --relay <addr>` on one device reaches every device.
 */
export function libraryRelays(doc: Y.Doc): string[] {
  return readList(doc, 'relays')
}

/** Whether `peerId` is one of the library's relays. */
export function isLibraryRelay(doc: Y.Doc, peerId: string): boolean {
  return libraryRelays(doc).some((address) => address.endsWith(`/p2p/${peerId}`))
}

export function setLibraryRelays(doc: Y.Doc, relays: string[]): void {
  writeList(doc, 'relays', relays)
}

/** A list setting of the `network` map: a JSON array of strings (anything else reads as empty). */
function readList(doc: Y.Doc, key: string): string[] {
  const value = doc.getMap<string>(NETWORK_SETTINGS_MAP).get(key)
  if (typeof value !== 'string') return []
  try {
    const parsed = JSON.parse(value) as unknown
    return Array.isArray(parsed) ? parsed.filter((a): a is string => typeof a === 'string') : []
  } catch {
    return []
  }
}

/** Writes a list setting, only when it changed (every write replicates to every device). */
function writeList(doc: Y.Doc, key: string, list: string[]): void {
  const map = doc.getMap<string>(NETWORK_SETTINGS_MAP)
  const value = JSON.stringify([...new Set(list)])
  if (map.get(key) !== value) map.set(key, value)
}

/** Checks a relay address: a multiaddr that ends with the relay's /p2p/<peer id>. */
export function checkRelayAddress(address: string): string {
  let ma: ReturnType<typeof multiaddr>
  try {
    ma = multiaddr(address)
  } catch (error) {
    throw new BadRelayAddressError(`${address} is not a multiaddr (${(error as Error).message})`)
  }
  if (ma.getComponents().at(-1)?.name !== 'p2p' || address.includes('/p2p-circuit'))
    throw new BadRelayAddressError(
      `${address}: a relay address ends with /p2p/<relay id>, as 'cloudless relay' prints it`,
    )
  return ma.toString()
}

/**
 * The STUN (and TURN) servers the library's devices use for WebRTC, as `cloudless start --stun`
 * set them on a device: in the catalog too (`network` -> 'stun'), so that a browser, which has
 * no settings of its own, uses the same ones. Empty: libp2p's public defaults.
 */
export function libraryStunServers(doc: Y.Doc): string[] {
  return readList(doc, 'stun')
}

export function setLibraryStunServers(doc: Y.Doc, servers: string[]): void {
  writeList(doc, 'stun', servers)
}

/** An RTCIceServer from `stun:host:port` or `turn:user:password@host:port`. */
export function iceServer(url: string): { urls: string; username?: string; credential?: string } {
  const turn = /^(turns?):([^:@]+):([^@]+)@(.+)$/.exec(url)
  if (turn === null) return { urls: url }
  return { urls: `${turn[1]}:${turn[4]}`, username: turn[2]!, credential: turn[3]! }
}

export function onRelaysChange(doc: Y.Doc, listener: () => void): () => void {
  const map = doc.getMap(NETWORK_SETTINGS_MAP)
  map.observe(listener)
  return () => map.unobserve(listener)
}
