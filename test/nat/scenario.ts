import { promises as fs } from 'node:fs'
import path from 'node:path'
import {
  BedProcess,
  bedDown,
  bedUp,
  type NatMode,
  pollFor,
  RELAY_IP,
  STUN_URL,
  writeNoiseWav,
} from './bed.ts'

/** What `cloudless devices --json` says of one device (the fields these tests read). */
export interface DeviceRow {
  id: string
  name: string
  online: boolean
  connection: { address: string; reach: 'lan' | 'direct' | 'relayed'; rttMs: number | null } | null
}

/** The home side of the story: the bed, the home device holding the tracks, and the relay. */
export interface Home {
  relay: BedProcess
  home: BedProcess
  relayAddress: string
  trackId: string
  trackSha256: string
  trackBytes: number
  /** Every track made (the first is trackId), for the benchmark: a track streams once uncached. */
  tracks: Array<{ id: string; sha256: string; bytes: number }>
  /** Stops every process (also those added later with `adopt`) and tears the bed down. */
  stop(): Promise<void>
  /** Registers another process (a device moved elsewhere) for `stop`. */
  adopt(process: BedProcess): void
}

export interface Away extends Home {
  laptop: BedProcess
}

const STUN = ['--stun', STUN_URL]
const LAPTOP_PORTS = [
  '--tcp-port',
  '7760',
  '--ws-port',
  '7761',
  '--webrtc-port',
  '7760',
  '--http-port',
  '7762',
]

/**
 * Builds the bed; the home device holds tracks (noise, so they do not compress) and uses a relay,
 * on which it holds a reservation when this returns.
 */
export async function setUpHome(
  nat: { home: NatMode; hotel: NatMode },
  options: { trackSeconds?: number; trackCount?: number } = {},
): Promise<Home> {
  const trackSeconds = options.trackSeconds ?? 30
  const trackCount = options.trackCount ?? 1
  await bedUp(nat)
  const processes: BedProcess[] = []
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop().catch(() => {})))
    await bedDown()
    await Promise.all(processes.map((p) => fs.rm(p.home, { recursive: true, force: true })))
  }
  try {
    const home = await BedProcess.create('home', 'home')
    processes.push(home)
    const music = path.join(home.home, 'music')
    const { createHash } = await import('node:crypto')
    const made: Array<{ title: string; sha256: string; bytes: number }> = []
    for (let i = 1; i <= trackCount; i++) {
      const title = i === 1 ? 'Hotel Noise' : `Hotel Noise ${i}`
      const file = path.join(music, 'Noise', 'Away', `${String(i).padStart(2, '0')} ${title}.wav`)
      await writeNoiseWav(file, trackSeconds)
      const bytes = await fs.readFile(file)
      made.push({ title, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length })
    }
    const scanned = await home.cli(['scan', music])
    if (scanned.code !== 0) throw new Error(`scan failed: ${scanned.stderr}`)
    const status = await home.cliJson<{ device: { id: string } }>(['status'])

    const relay = await BedProcess.create('relay', 'relay')
    processes.push(relay)
    await relay.start(['relay', '--allow', status.device.id])
    const relayAddress = `/ip4/${RELAY_IP}/tcp/7750/p2p/${relay.peerId}`

    await home.start(['start', '--name', 'home', '--no-mdns', '--relay', relayAddress, ...STUN])
    const tracks = await home.cliJson<Array<{ id: string; title: string }>>(['tracks'])
    const ids = made.map((m) => tracks.find((t) => t.title === m.title)?.id)
    if (ids.some((id) => id === undefined))
      throw new Error(`the home device did not index the tracks: ${JSON.stringify(tracks)}`)
    const madeTracks = made.map((m, i) => ({ id: ids[i]!, sha256: m.sha256, bytes: m.bytes }))
    await pollFor(
      'the home device to hold a reservation on the relay',
      async () => {
        const s = await home.cliJson<{ network: { relays: Array<{ state: string }> } | null }>(['status'])
        return s.network?.relays[0]?.state === 'reserved' ? true : undefined
      },
      120_000,
    )
    const first = madeTracks[0]!
    return {
      relay,
      home,
      relayAddress,
      trackId: first.id,
      trackSha256: first.sha256,
      trackBytes: first.bytes,
      tracks: madeTracks,
      stop,
      adopt: (p) => processes.push(p),
    }
  } catch (error) {
    const logs = processes.map((p) => `--- ${p.name} (${p.place})\n${p.logTail(30)}`).join('\n')
    await stop()
    throw new Error(`${(error as Error).message}\n${logs}`)
  }
}

/**
 * The story of issue 6, up to the point where the laptop is in the hotel: the home device holds a
 * track and uses a relay (setUpHome); the laptop is paired at home, then started in the hotel,
 * where it reaches home through the relay.
 */
export async function setUpAway(
  nat: { home: NatMode; hotel: NatMode },
  options: { trackSeconds?: number; trackCount?: number } = {},
): Promise<Away> {
  const home = await setUpHome(nat, options)
  try {
    // Paired at home, on the LAN, like a laptop before the trip.
    const atHome = await BedProcess.create('home', 'laptop')
    home.adopt(atHome)
    await atHome.start(['start', '--name', 'laptop', '--no-mdns', ...LAPTOP_PORTS, ...STUN])
    const invite = await home.home.cliJson<{ link: string }>(['invite'])
    const joined = await atHome.cli(['join', invite.link], 120_000)
    if (joined.code !== 0) throw new Error(`join failed: ${joined.stderr}\n${atHome.logTail()}`)
    await atHome.stop()

    const laptop = atHome.moveTo('hotel')
    home.adopt(laptop)
    await laptop.start(['start', '--no-mdns'])
    return { ...home, laptop }
  } catch (error) {
    const logs = [home.home, home.relay].map((p) => `--- ${p.name} (${p.place})\n${p.logTail(30)}`)
    await home.stop()
    throw new Error(`${(error as Error).message}\n${logs.join('\n')}`)
  }
}

/** The laptop's view of the home device, once it satisfies `ok`. */
export function homeAsSeenFrom(
  away: Away,
  ok: (row: DeviceRow) => boolean,
  what: string,
  deadlineMs = 180_000,
) {
  return pollFor(
    what,
    async () => {
      const rows = await away.laptop.cliJson<DeviceRow[]>(['devices'])
      const row = rows.find((r) => r.id === away.home.peerId)
      return row !== undefined && ok(row) ? row : undefined
    },
    deadlineMs,
    2000,
  )
}

/** Runs `check`; when it fails, the error carries the end of every process's log. */
export async function withLogs<T>(away: Home & { laptop?: BedProcess }, check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (error) {
    const processes =
      away.laptop === undefined ? [away.home, away.relay] : [away.home, away.laptop, away.relay]
    const logs = processes.map((p) => `--- ${p.name} (${p.place})\n${p.logTail(60)}`)
    ;(error as Error).message += `\n${logs.join('\n')}`
    throw error
  }
}
