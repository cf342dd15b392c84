import { promises as fs } from 'node:fs'
import os from 'node:os'
import { writeFileAtomic } from '../../blobs/index.ts'

/** Settings that belong to this device only (the catalog holds what all devices share). */
export interface DeviceConfig {
  deviceName: string
  /** Library folders this device scans, as absolute paths. */
  roots: string[]
  /** Where the node listens. Kept here so addresses stay the same across restarts. */
  network: NetworkConfig
  /** Size limit of the cache of blobs fetched from other devices (pins may exceed it). */
  cacheLimitBytes: number
  /** Keep a full copy of the whole library on this device. */
  mirror: boolean
}

export const DEFAULT_CACHE_LIMIT_BYTES = 4 * 1024 ** 3

export interface NetworkConfig {
  /** Interface for the libp2p listeners (all interfaces by default, so the LAN can reach us). */
  listenHost: string
  tcpPort: number
  wsPort: number
  webrtcPort: number
  /** The HTTP API and web app: loopback only unless the user says otherwise. */
  httpHost: string
  httpPort: number
  mdns: boolean
  /** Ask the router for a port mapping (UPnP / NAT-PMP); off unless asked for. */
  upnp: boolean
  /** STUN/TURN servers for WebRTC hole punching; empty: libp2p's public defaults. */
  stunServers: string[]
}

export const DEFAULT_NETWORK: NetworkConfig = {
  listenHost: '0.0.0.0',
  tcpPort: 7740,
  wsPort: 7741,
  webrtcPort: 7740,
  httpHost: '127.0.0.1',
  httpPort: 7742,
  mdns: true,
  upnp: false,
  stunServers: [],
}

export class ConfigFileError extends Error {
  override name = 'ConfigFileError'
}

export function defaultConfig(): DeviceConfig {
  return {
    deviceName: os.hostname(),
    roots: [],
    network: { ...DEFAULT_NETWORK },
    cacheLimitBytes: DEFAULT_CACHE_LIMIT_BYTES,
    mirror: false,
  }
}

export async function readConfig(file: string): Promise<DeviceConfig> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig()
    throw error
  }
  let parsed: Partial<DeviceConfig>
  try {
    parsed = JSON.parse(text) as Partial<DeviceConfig>
  } catch (error) {
    throw new ConfigFileError(`${file} is not valid JSON (${(error as Error).message}); fix or remove it`)
  }
  const defaults = defaultConfig()
  return {
    deviceName: typeof parsed.deviceName === 'string' ? parsed.deviceName : defaults.deviceName,
    roots: Array.isArray(parsed.roots) ? parsed.roots.filter((r) => typeof r === 'string') : [],
    network: { ...DEFAULT_NETWORK, ...(typeof parsed.network === 'object' ? parsed.network : {}) },
    cacheLimitBytes:
      typeof parsed.cacheLimitBytes === 'number' && parsed.cacheLimitBytes >= 0
        ? parsed.cacheLimitBytes
        : defaults.cacheLimitBytes,
    mirror: parsed.mirror === true,
  }
}

export async function writeConfig(file: string, config: DeviceConfig): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`)
}
