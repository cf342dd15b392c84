import { multiaddr } from '@multiformats/multiaddr'
import type * as Y from 'yjs'
import { NETWORK_SETTINGS_MAP } from './constants.ts'
import { BadRelayAddressError } from './errors.ts'

/**
 * The library's relays: a setting in the catalog (its own small map, `network` -> 'relays', a JSON
 * array of multiaddrs), so `cloudless start --relay <addr>` on one device reaches every device.
 */
export function libraryRelays(doc: Y.Doc): string[] {
  const value = doc.getMap<string>(NETWORK_SETTINGS_MAP).get('relays')
  if (typeof value !== 'string') return []
  try {
    const parsed = JSON.parse(value) as unknown
    return Array.isArray(parsed) ? parsed.filter((a): a is string => typeof a === 'string') : []
  } catch {
    return []
  }
}

/** Whether `peerId` is one of the library's relays. */
export function isLibraryRelay(doc: Y.Doc, peerId: string): boolean {
  return libraryRelays(doc).some((address) => address.endsWith(`/p2p/${peerId}`))
}

export function setLibraryRelays(doc: Y.Doc, relays: string[]): void {
  const map = doc.getMap<string>(NETWORK_SETTINGS_MAP)
  const value = JSON.stringify([...new Set(relays)])
  if (map.get('relays') !== value) map.set('relays', value)
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
  const value = doc.getMap<string>(NETWORK_SETTINGS_MAP).get('stun')
  if (typeof value !== 'string') return []
  try {
    const parsed = JSON.parse(value) as unknown
    return Array.isArray(parsed) ? parsed.filter((a): a is string => typeof a === 'string') : []
  } catch {
    return []
  }
}

export function setLibraryStunServers(doc: Y.Doc, servers: string[]): void {
  const map = doc.getMap<string>(NETWORK_SETTINGS_MAP)
  const value = JSON.stringify([...new Set(servers)])
  if (map.get('stun') !== value) map.set('stun', value)
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
