import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bedSkipReason, cutDirectPath, droppedByCut, pollFor, RELAY_IP, relayBytes, runIn } from './bed.ts'
import { type Away, type DeviceRow, homeAsSeenFrom, setUpAway, withLogs } from './scenario.ts'

/**
 * Issue 6 on the NAT test bed (scripts/netns): real `cloudless start` and `cloudless relay`
 * processes in network namespaces behind real nftables NATs. Needs root, namespaces, nftables and
 * coturn (for STUN); otherwise every test here is reported as skipped, with the reason printed.
 */
const reason = await bedSkipReason()
if (reason !== '') console.warn(`test/nat skipped: ${reason}`)

const STRANGER = fileURLToPath(new URL('./stranger.ts', import.meta.url))
const STEP_MS = 300_000

interface StatusJson {
  network: {
    relays: Array<{ address: string; state: string; error: string | null }>
    devices: Array<{ id: string; reach: string | null; rttMs: number | null }>
  } | null
}

const homeRow = (rows: DeviceRow[], away: Away) => rows.find((r) => r.id === away.home.peerId)

describe.skipIf(reason !== '')('away from home, both behind cone NATs', () => {
  let away: Away
  beforeAll(async () => {
    // Two tracks: the laptop caches what it streamed, so the fallback test streams the second.
    away = await setUpAway({ home: 'cone', hotel: 'cone' }, { trackCount: 2 })
  }, STEP_MS)
  afterAll(async () => {
    await away?.stop()
  }, 60_000)

  it(
    'reaches home through the relay, then directly (hole punched), and the relay carries no more of the stream',
    () =>
      withLogs(away, async () => {
        const row = await homeAsSeenFrom(
          away,
          (r) => r.connection?.reach === 'direct',
          'a direct connection to home',
        )
        expect(row.connection?.address).toContain('/webrtc')
        const before = await relayBytes()
        const got = await away.laptop.get(`/stream/${away.trackId}`)
        const through = (await relayBytes()) - before
        expect(got.status).toBe(200)
        expect(got.bytes).toBe(away.trackBytes)
        expect(got.sha256).toBe(away.trackSha256)
        // Keep-alives and catalog sync with the relay are a few KB; the track is 5 MB.
        expect(through).toBeLessThan(away.trackBytes / 20)
      }),
    STEP_MS,
  )

  it(
    'shows in cloudless status how home is reached, with the round trip, and the reservation',
    async () => {
      const status = await away.laptop.cliJson<StatusJson>(['status'])
      expect(status.network?.relays).toEqual([
        expect.objectContaining({ address: away.relayAddress, state: 'reserved' }),
      ])
      const home = status.network?.devices.find((d) => d.id === away.home.peerId)
      expect(home?.reach).toBe('direct')
      expect(home?.rttMs).toBeGreaterThan(0)
      const text = await away.laptop.cli(['status'])
      expect(text.stdout).toMatch(/Reaches {2}home: direct, [\d.]+ ms/)
    },
    STEP_MS,
  )

  it(
    'falls back to the relay when the direct path breaks, and the track still plays',
    () =>
      withLogs(away, async () => {
        await homeAsSeenFrom(away, (r) => r.connection?.reach === 'direct', 'a direct connection to home')
        const track = away.tracks[1]!
        // The hotel router now drops everything between the two NATs; the relay stays reachable.
        await cutDirectPath(true)
        try {
          const row = await homeAsSeenFrom(
            away,
            (r) => r.connection?.reach === 'relayed',
            'home reached through the relay again',
            240_000,
          )
          expect(row.connection?.address).toContain(`/p2p/${away.relay.peerId}/p2p-circuit`)
          // The cut took packets of the direct connection: it was in use when it broke.
          expect(await droppedByCut()).toBeGreaterThan(0)
          const status = await away.laptop.cliJson<StatusJson>(['status'])
          expect(status.network?.devices.find((d) => d.id === away.home.peerId)?.reach).toBe('relayed')
          const text = await away.laptop.cli(['status'])
          expect(text.stdout).toMatch(/Reaches {2}home: relayed, [\d.]+ ms/)

          const before = await relayBytes()
          const got = await away.laptop.get(`/stream/${track.id}`)
          const through = (await relayBytes()) - before
          expect(got.status).toBe(200)
          expect(got.sha256).toBe(track.sha256)
          // In from home and out to the hotel: twice the track, plus framing.
          expect(through).toBeGreaterThan(track.bytes * 2)
        } finally {
          await cutDirectPath(false)
        }
      }),
    STEP_MS,
  )

  it(
    'goes direct again once the path is back (the upgrade is retried, with backoff)',
    () =>
      withLogs(away, async () => {
        // The previous test mended the path on its way out; retries come 30 s apart at first.
        const row = await homeAsSeenFrom(
          away,
          (r) => r.connection?.reach === 'direct',
          'a direct connection to home again',
          STEP_MS - 30_000,
        )
        expect(row.connection?.address).toContain('/webrtc')
      }),
    STEP_MS,
  )
})

describe.skipIf(reason !== '')('away from home, the hotel behind a symmetric NAT', () => {
  let away: Away
  beforeAll(async () => {
    away = await setUpAway({ home: 'cone', hotel: 'symmetric' })
  }, STEP_MS)
  afterAll(async () => {
    await away?.stop()
  }, 60_000)

  it(
    'stays relayed after hole punching failed, and the track still plays through the relay',
    async () => {
      await homeAsSeenFrom(away, (r) => r.online, 'home online')
      // Whichever device starts the upgrade logs its failure: wait for it, then check.
      await pollFor(
        'a failed hole-punching attempt',
        async () =>
          `${away.laptop.log}${away.home.log}`.includes('no direct connection to') ? true : undefined,
        180_000,
      )
      const rows = await away.laptop.cliJson<DeviceRow[]>(['devices'])
      expect(homeRow(rows, away)?.connection?.reach).toBe('relayed')
      const before = await relayBytes()
      const got = await away.laptop.get(`/stream/${away.trackId}`)
      const through = (await relayBytes()) - before
      expect(got.sha256).toBe(away.trackSha256)
      // In from home and out to the hotel: twice the track, plus framing.
      expect(through).toBeGreaterThan(away.trackBytes * 2)
    },
    STEP_MS,
  )

  it(
    'refuses a stranger: no connection, no reservation, no way to home',
    async () => {
      const homeCircuit = `${away.relayAddress}/p2p-circuit/p2p/${away.home.peerId}`
      const out = JSON.parse(await runIn('hotel', STRANGER, [away.relayAddress, homeCircuit])) as {
        connected: boolean
        reserved: boolean
        reachedDevice: boolean
        errors: string[]
      }
      expect(out, out.errors.join('\n')).toMatchObject({
        connected: false,
        reserved: false,
        reachedDevice: false,
      })
      // While the library's own device keeps its reservation on the same relay.
      const status = await away.laptop.cliJson<StatusJson>(['status'])
      expect(status.network?.relays[0]?.state).toBe('reserved')
    },
    STEP_MS,
  )

  it(
    'says clearly when the relay is down, and the devices reconnect when it is back',
    async () => {
      await away.relay.stop()
      const down = await pollFor(
        'the relay to show as down',
        async () => {
          const status = await away.laptop.cliJson<StatusJson>(['status'])
          const relay = status.network?.relays[0]
          const home = status.network?.devices.find((d) => d.id === away.home.peerId)
          return relay?.state === 'unreachable' && home?.reach === null ? status : undefined
        },
        180_000,
      )
      expect(down.network?.relays[0]?.error).toBeTruthy()
      const text = await away.laptop.cli(['status'])
      expect(text.stdout).toContain(`Relay    ${away.relayAddress}: UNREACHABLE`)
      expect(text.stdout).toMatch(/Reaches {2}home: offline/)

      await away.relay.restart()
      await homeAsSeenFrom(away, (r) => r.connection?.reach === 'relayed', 'home back through the relay')
      const got = await away.laptop.get(`/stream/${away.trackId}`)
      expect(got.sha256).toBe(away.trackSha256)
    },
    STEP_MS,
  )
})

// So that a typo in the address constants shows up as a failure, not as a silent skip.
describe.skipIf(reason !== '')('the test bed', () => {
  it('puts the relay on a public-looking address', () => {
    expect(RELAY_IP.startsWith('203.0.114.')).toBe(true)
  })
})
