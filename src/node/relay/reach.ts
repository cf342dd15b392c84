import type { Connection } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'

/** How a device is reached now: on the LAN, directly over the internet, or through a relay. */
export type Reach = 'lan' | 'direct' | 'relayed'

/**
 * Classifies a connection by its remote address. A WebRTC connection set up through a relay
 * (`/p2p-circuit/webrtc`) is hole-punched: its data goes directly between the devices.
 */
export function reachOf(connection: Pick<Connection, 'remoteAddr'>): Reach {
  const address = connection.remoteAddr
  const text = address.toString()
  if (text.includes('/p2p-circuit')) return text.includes('/p2p-circuit/webrtc') ? 'direct' : 'relayed'
  try {
    return isPrivate(address) ? 'lan' : 'direct'
  } catch {
    return 'direct'
  }
}

/** Of several connections to one device, the best one: a direct connection beats a relayed one. */
export function bestConnection<C extends Pick<Connection, 'remoteAddr' | 'status'>>(
  connections: C[],
): C | undefined {
  const rank = (c: C) => ({ lan: 0, direct: 1, relayed: 2 })[reachOf(c)]
  return connections.filter((c) => c.status === 'open').sort((a, b) => rank(a) - rank(b))[0]
}

/**
 * Round-trip time to a connected device in ms, by libp2p ping over the connection we have (no new
 * dial); null when it does not answer in time. Falls back to libp2p's own last measurement.
 */
export async function roundTripMs(
  libp2p: { services: Record<string, unknown>; getConnections(): Connection[] },
  deviceId: string,
  signal: AbortSignal,
): Promise<number | null> {
  const connection = bestConnection(
    libp2p.getConnections().filter((c) => c.remotePeer.toString() === deviceId),
  )
  if (connection === undefined) return null
  const ping = libp2p.services.ping as
    | { ping(peer: Connection['remotePeer'], options: { signal: AbortSignal }): Promise<number> }
    | undefined
  try {
    if (ping !== undefined) return Math.round((await ping.ping(connection.remotePeer, { signal })) * 10) / 10
  } catch {
    // Fall through to the last measurement.
  }
  return connection.rtt ?? null
}
