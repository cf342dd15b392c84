import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pageProblems, screenshot } from '../helpers/browser.ts'
import { BedProcess, bedSkipReason, pollFor, RELAY_IP, relayBytes } from './bed.ts'
import { NamespacedChromium } from './chromium.ts'
import { type DeviceRow, type Home, setUpHome, withLogs } from './scenario.ts'

/**
 * Issue 6, the browser part, on the NAT test bed: Chromium runs inside the bed's namespaces. Like
 * the laptop, the browser is paired at home (pairing needs the two devices to reach each other:
 * the relay serves only devices of the library), then travels: the same Chromium profile opens
 * the web app in the hotel, from a plain static host there (the app is static files), and plays a
 * track only the home device holds. From the hotel the page can reach home only through the
 * relay: over WebSockets to the relay, then circuit relay v2 to the home device.
 */
const reason = await bedSkipReason()
if (reason !== '') console.warn(`test/nat (browser) skipped: ${reason}`)

const WEB_HOST = fileURLToPath(new URL('./web-host.ts', import.meta.url))
const STEP_MS = 420_000
/** The port of the home node's web app, so that the static host in the hotel is the same origin. */
const WEB_PORT = '7742'

/** What the page's <audio> says (read in the page; test/nat has no DOM types). */
interface AudioState {
  currentTime: number
  paused: boolean
  seeking: boolean
  error: { code: number; message: string } | null
}
interface PeerInPage {
  membership: { others(): Array<{ deviceId: string; addresses?: string[] }> }
}

/** The page's view of the home device's published addresses (its catalog). */
function homeAddressesInPage(page: Page, homeId: string): Promise<string[]> {
  return page.evaluate((id) => {
    const peer = (globalThis as unknown as { cloudless?: PeerInPage }).cloudless
    return peer?.membership.others().find((m) => m.deviceId === id)?.addresses ?? []
  }, homeId)
}

async function pageStatus(page: Page): Promise<{ connected: string; addresses: string[] }> {
  const status = page.getByTestId('status')
  return {
    connected: (await status.getAttribute('data-connected')) ?? '',
    addresses: ((await status.getAttribute('data-addresses')) ?? '').split(' ').filter((a) => a !== ''),
  }
}

// Behind a symmetric NAT the page stays relayed; behind a cone NAT it sets up WebRTC through the
// relay (ICE with the library's STUN server, from the catalog) and the relay carries no more.
for (const [hotel, expected] of [
  ['symmetric', 'relayed'],
  ['cone', 'direct'],
] as const)
  describe.skipIf(reason !== '')(`the browser away from home, the hotel behind a ${hotel} NAT`, () => {
    let scene: Home
    let chromium: NamespacedChromium
    let context: BrowserContext | undefined
    let browserId = ''

    beforeAll(async () => {
      scene = await setUpHome({ home: 'cone', hotel })
      chromium = await NamespacedChromium.create()
    }, STEP_MS)
    afterAll(async () => {
      await context?.close().catch(() => {})
      await scene?.stop()
      await chromium?.dispose()
    }, 120_000)

    it(
      'pairs at home from the web link of `cloudless invite`',
      () =>
        withLogs(scene, async () => {
          context = await chromium.open('home')
          const page = context.pages()[0] ?? (await context.newPage())
          const problems = pageProblems(page)
          const invite = await scene.home.cliJson<{ webLink: string }>(['invite'])
          expect(invite.webLink).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${WEB_PORT}/#join=`))
          await page.goto(invite.webLink)
          await expect
            .poll(() => page.getByTestId('track-count').getAttribute('data-count'), { timeout: 120_000 })
            .toBe('1')
          browserId = (await page.getByTestId('status').getAttribute('data-device-id')) ?? ''
          await pollFor(
            'home to list the browser online',
            async () => {
              const rows = await scene.home.cliJson<DeviceRow[]>(['devices'])
              return rows.find((d) => d.id === browserId)?.online === true ? true : undefined
            },
            60_000,
          )
          // Home holds a reservation on the relay, so its record (synced to the page) has relayed
          // addresses: the page will need them in the hotel.
          await expect
            .poll(async () => (await homeAddressesInPage(page, scene.home.peerId)).join(' '), {
              timeout: 60_000,
            })
            .toContain(`/ip4/${RELAY_IP}/tcp/7751/ws/p2p/${scene.relay.peerId}/p2p-circuit/p2p/`)
          expect(problems).toEqual([])
          await context.close()
          context = undefined
        }),
      STEP_MS,
    )

    it(
      `in the hotel, reaches home ${expected === 'relayed' ? 'only through the relay' : 'directly (WebRTC through the relay)'} and plays a track only home holds`,
      () =>
        withLogs(scene, async () => {
          expect(browserId).not.toBe('')
          const host = await BedProcess.create('hotel', 'web-host')
          scene.adopt(host)
          const { url } = (await host.startScript(WEB_HOST, [WEB_PORT])) as { url: string }
          context = await chromium.open('hotel')
          const page = context.pages()[0] ?? (await context.newPage())
          const problems = pageProblems(page)
          await page.goto(`${url}/`)
          // The same device as at home: its identity came with the profile.
          await expect
            .poll(() => page.getByTestId('status').getAttribute('data-device-id'), { timeout: 60_000 })
            .toBe(browserId)
          // Home's LAN addresses lead nowhere from here; its relayed address does.
          const connected = await pollFor(
            'the page to connect to home',
            async () => {
              const s = await pageStatus(page)
              return s.connected === '1' ? s : undefined
            },
            240_000,
            500,
          )
          expect(connected.addresses.length).toBeGreaterThan(0)
          for (const address of connected.addresses) {
            expect(address).toContain(`/p2p/${scene.relay.peerId}/p2p-circuit/`)
          }
          // Home sees the browser as the page sees home: relayed, or direct once the page upgraded.
          const seen = await pollFor(
            `home to list the browser as ${expected}`,
            async () => {
              const rows = await scene.home.cliJson<DeviceRow[]>(['devices'])
              const row = rows.find((d) => d.id === browserId)
              return row?.connection?.reach === expected ? row : undefined
            },
            120_000,
          )
          expect(seen.online).toBe(true)
          // The page says so too, with the round trip.
          const homeRow = page.locator(`[data-testid="device"][data-device-id="${scene.home.peerId}"]`)
          await expect.poll(() => homeRow.getAttribute('data-reach'), { timeout: 60_000 }).toBe(expected)
          await expect
            .poll(() => homeRow.textContent(), { timeout: 30_000 })
            .toMatch(new RegExp(`${expected}, [\\d.]+ ms$`))
          if (expected === 'direct') {
            const now = await pageStatus(page)
            expect(now.addresses.join(' ')).toContain('/webrtc')
          }

          const before = await relayBytes()
          await page.locator(`[data-track-id="${scene.trackId}"]`).click()
          expect(await page.getByTestId('audio').getAttribute('src')).toBe(`media/${scene.trackId}`)
          const audio = page.getByTestId('audio')
          const played = await pollFor(
            'the track to play past 3 s',
            async () => {
              const state = await audio.evaluate((a: AudioState) => ({
                currentTime: a.currentTime,
                paused: a.paused,
                seeking: a.seeking,
                error: a.error === null ? null : { code: a.error.code, message: a.error.message },
              }))
              return state.error !== null || (state.currentTime > 3 && !state.paused && !state.seeking)
                ? state
                : undefined
            },
            180_000,
            250,
          )
          expect(played.error).toBeNull()
          expect(await page.getByTestId('now-title').textContent()).toBe('Hotel Noise')
          // Three seconds of this WAV are 0.5 MB. Relayed, every byte of it came in from home and
          // went out to the hotel through the relay; direct, the relay saw none of it.
          const through = (await relayBytes()) - before
          if (expected === 'relayed') expect(through).toBeGreaterThan(2 * 3 * 44_100 * 4)
          else expect(through).toBeLessThan(3 * 44_100 * 4)
          await screenshot(page, `away-hotel-playing-${expected}`)
          // Chromium logs every WebSocket it could not open: the page tries home's own addresses
          // first, which lead nowhere from the hotel. Anything else is a problem.
          const homeOwn =
            /^console: WebSocket connection to 'ws:\/\/(192\.168\.1\.10|127\.0\.0\.1):7741\/' failed/
          expect(problems.filter((p) => !homeOwn.test(p))).toEqual([])
        }),
      STEP_MS,
    )
  })
