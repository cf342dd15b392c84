import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TrackView } from '../../src/crdt/index.ts'
import { callNodeOp, findRunningNode } from '../../src/node/control/client.ts'
import type { DeviceListItem } from '../../src/node/ops/network-ops.ts'
import { launchChromium, pageProblems, screenshot } from '../helpers/browser.ts'
import { FIXTURE_LIBRARY, tempDir } from '../helpers/fixtures.ts'
import { NodeProcess } from '../helpers/node-process.ts'
import { eventually } from '../helpers/wait.ts'

/**
 * Issue 5 as a user lives it: a real `cloudless start` holds the music; Debian's Chromium opens
 * the web app the node serves, with an invite link, and becomes a device of the library over
 * real libp2p transports. The track it plays exists only on the node: the page's service worker
 * answers the <audio> element with blocks the page fetched over libp2p and verified.
 */

const LONG_TITLE = 'Long Sine Sweep'
const VIDEO_TITLE = 'Test Card'

async function storedBlockKeys(page: Page, contentId: string): Promise<string[]> {
  return page.evaluate(
    (id) =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open('cloudless')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const keys = open.result.transaction('blocks').objectStore('blocks').getAllKeys()
          keys.onsuccess = () => resolve((keys.result as string[]).filter((k) => k.startsWith(`${id}/`)))
        }
      }),
    contentId,
  )
}

/** Waits until the page's <audio> plays past `seconds` (or fails with its media error). */
async function playsPast(page: Page, seconds: number): Promise<void> {
  await page.waitForFunction(
    (s) => {
      const a = document.querySelector('audio')!
      return a.error !== null || (a.currentTime > s && !a.seeking && !a.paused)
    },
    seconds,
    { timeout: 60_000 },
  )
  const error = await page.getByTestId('audio').evaluate((a: HTMLAudioElement) => a.error?.message ?? null)
  expect(error).toBeNull()
}

describe('the browser peer', { timeout: 180_000 }, () => {
  let node: NodeProcess
  let library: string
  let browser: Browser
  let tracks: TrackView[] = []

  beforeAll(async () => {
    library = await tempDir('web-library')
    // A track of several 256 KiB blocks (60 s of 320 kb/s MP3, ~2.4 MB), so that a seek needs
    // blocks not fetched yet; plus a few small fixtures.
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=220:beep_factor=4:duration=60',
      '-ac',
      '2',
      '-b:a',
      '320k',
      '-metadata',
      `title=${LONG_TITLE}`,
      '-metadata',
      'artist=Test Tones',
      '-metadata',
      'album=Long Ones',
      path.join(library, 'long.mp3'),
    ])
    // A video of several blocks too (10 s of VP8, ~1 MB).
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=25:duration=10',
      '-c:v',
      'libvpx',
      '-b:v',
      '800k',
      '-metadata',
      `title=${VIDEO_TITLE}`,
      path.join(library, 'card.webm'),
    ])
    await fs.cp(path.join(FIXTURE_LIBRARY, 'Paper Planes'), path.join(library, 'Paper Planes'), {
      recursive: true,
    })
    node = await NodeProcess.create('home')
    const scanned = await node.cli(['scan', library, '--json'])
    expect(scanned.code, scanned.stderr).toBe(0)
    await node.start()
    const info = await findRunningNode(node.home)
    tracks = await callNodeOp<TrackView[]>(info!, 'tracks', {})
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await node?.dispose()
    if (library !== undefined) await fs.rm(library, { recursive: true, force: true })
  })

  // Each transport on its own: a browser context is a browser of its own (own IndexedDB), so
  // each one pairs as a new device.
  for (const [browserNo, transport, addressPattern] of [
    [1, 'webrtc-direct', /\/udp\/\d+\/webrtc-direct\//],
    [2, 'websockets', /\/tcp\/\d+\/ws\//],
  ] as const) {
    describe(`over ${transport}`, () => {
      let context: BrowserContext
      let page: Page
      let problems: string[] = []

      beforeAll(async () => {
        context = await browser.newContext()
        page = await context.newPage()
        problems = pageProblems(page)
      })
      afterAll(async () => {
        await context?.close()
      })

      it('pairs from an invite link, shows the catalog, and is listed by `cloudless devices`', async () => {
        const invite = await node.cliJson<{ webLink: string }>(['invite'])
        expect(invite.webLink).toMatch(new RegExp(`^${node.description!.http}/#join=[A-Za-z0-9_-]+$`))
        await page.goto(invite.webLink.replace('/#', `/?transport=${transport}#`))
        await expect
          .poll(() => page.getByTestId('track-count').getAttribute('data-count'), { timeout: 60_000 })
          .toBe(String(tracks.length))
        expect(await page.getByTestId('track-row').count()).toBe(tracks.length)
        // The secret does not stay in the address bar.
        expect(page.url()).not.toContain('join=')
        const status = page.getByTestId('status')
        await expect.poll(() => status.getAttribute('data-connected'), { timeout: 30_000 }).toBe('1')
        expect(await status.getAttribute('data-addresses')).toMatch(addressPattern)
        const browserId = await status.getAttribute('data-device-id')
        const devices = await node.cliJson<DeviceListItem[]>(['devices'])
        const listed = devices.find((d) => d.id === browserId)
        expect(listed, JSON.stringify(devices)).toMatchObject({ name: 'Chromium on Linux', online: true })
        // The sidebar says how the page reaches the node (loopback counts as the LAN), with the round trip.
        const nodeRow = page.locator(`[data-testid="device"][data-device-id="${node.description!.peerId}"]`)
        await expect.poll(() => nodeRow.getAttribute('data-reach'), { timeout: 30_000 }).toBe('lan')
        await expect.poll(() => nodeRow.textContent(), { timeout: 30_000 }).toMatch(/LAN, [\d.]+ ms$/)
        await screenshot(page, `library-${transport}`)
        expect(problems).toEqual([])
      })

      it('answers a Range request for a part of a track only the node holds with its exact bytes', async () => {
        const long = tracks.find((t) => t.title === LONG_TITLE)!
        const file = await fs.readFile(path.join(library, 'long.mp3'))
        const start = file.length - 300_000
        const end = file.length - 1000
        const response = await page.evaluate(
          async ([url, range]) => {
            const r = await fetch(url, { headers: { range } })
            return {
              status: r.status,
              contentRange: r.headers.get('content-range'),
              type: r.headers.get('content-type'),
              bytes: Array.from(new Uint8Array(await r.arrayBuffer())),
            }
          },
          [`media/${long.id}`, `bytes=${start}-${end}`] as const,
        )
        expect(response.status).toBe(206)
        expect(response.contentRange).toBe(`bytes ${start}-${end}/${file.length}`)
        expect(response.type).toBe('audio/mpeg')
        expect(Buffer.from(response.bytes).equals(file.subarray(start, end + 1))).toBe(true)
        // Fetched on demand: the blocks of that range, not the file from its start.
        const stored = await storedBlockKeys(page, long.contentId)
        expect(stored).toContain(`${long.contentId}/${Math.floor(end / (256 * 1024))}`)
        expect(stored).not.toContain(`${long.contentId}/0`)
      })

      it('plays a track only the node holds, through the service worker, and seeks in it', async () => {
        const long = tracks.find((t) => t.title === LONG_TITLE)!
        await page.getByTestId('search').fill('sine sweep')
        await page.locator(`[data-track-id="${long.id}"]`).click()
        expect(await page.getByTestId('audio').getAttribute('src')).toBe(`media/${long.id}`)
        await playsPast(page, 2)
        expect(await page.getByTestId('now-title').textContent()).toBe(LONG_TITLE)
        await screenshot(page, `playing-${transport}`)
        await page.getByTestId('audio').evaluate((a: HTMLAudioElement) => {
          a.currentTime = 50
        })
        await playsPast(page, 51)
        expect(await page.getByTestId('audio').evaluate((a: HTMLAudioElement) => a.duration)).toBeGreaterThan(
          59,
        )
        expect(await storedBlockKeys(page, long.contentId)).toContain(`${long.contentId}/0`)
        // Heard past half: a play of this browser, replicated to the node (and added to those of
        // the browsers before it: play counts are per device and add up).
        const info = await findRunningNode(node.home)
        await expect
          .poll(
            async () =>
              (await callNodeOp<TrackView[]>(info!, 'tracks', {})).find((t) => t.id === long.id)?.plays,
            { timeout: 30_000 },
          )
          .toBe(browserNo)
        expect(problems).toEqual([])
      })

      it('plays a video only the node holds', async () => {
        const video = tracks.find((t) => t.title === VIDEO_TITLE)!
        expect(video.mediaType).toBe('video')
        await page.getByTestId('search').fill(VIDEO_TITLE)
        await page.locator(`[data-track-id="${video.id}"]`).click()
        await page.waitForFunction(
          () => {
            const v = document.querySelector('video')!
            return v.error !== null || (v.currentTime > 1 && v.videoWidth > 0)
          },
          undefined,
          { timeout: 60_000 },
        )
        const state = await page.getByTestId('video').evaluate((v: HTMLVideoElement) => ({
          error: v.error?.message ?? null,
          width: v.videoWidth,
          src: v.getAttribute('src'),
        }))
        expect(state).toEqual({ error: null, width: 320, src: `media/${video.id}` })
        // The audio element let go of the track it played.
        expect(await page.getByTestId('audio').getAttribute('src')).toBeNull()
        await screenshot(page, `video-${transport}`)
        await page.getByTestId('stage-close').click()
        expect(await page.getByTestId('video').evaluate((v: HTMLVideoElement) => v.paused)).toBe(true)
        expect(problems).toEqual([])
      })

      if (browserNo === 1)
        it('is installable: Chromium finds a manifest and a service worker it accepts', async () => {
          const cdp = await context.newCDPSession(page)
          const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
            installabilityErrors: Array<{ errorId: string }>
          }
          // A Playwright context is off the record, which Chromium reports as 'in-incognito'; any
          // other error (no manifest, no suitable icon, no service worker...) fails the test.
          const errors = installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')
          expect(errors).toEqual([])
          const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: unknown[] }
          expect(manifest.url).toMatch(/manifest\.webmanifest$/)
          expect(manifest.errors).toEqual([])
          await cdp.detach()
        })

      if (browserNo === 1)
        it('browses albums as a cover grid (covers fetched from the node), and artists', async () => {
          await page.getByTestId('search').fill('')
          await page.getByTestId('nav-albums').click()
          const cards = page.getByTestId('album-card')
          await expect.poll(() => cards.count(), { timeout: 30_000 }).toBe(3)
          const origami = cards.filter({ hasText: 'Origami' })
          const cover = origami.locator('img')
          expect(await cover.getAttribute('src')).toMatch(/^art\/[a-z2-7]{52}$/)
          await page.waitForFunction(
            () => {
              const imgs = [...document.querySelectorAll<HTMLImageElement>('[data-testid=album-card] img')]
              return imgs.length === 2 && imgs.every((img) => img.complete && img.naturalWidth > 0)
            },
            undefined,
            { timeout: 30_000 },
          )
          await screenshot(page, 'albums')
          await origami.click()
          await expect.poll(() => page.getByTestId('view-title').textContent()).toBe('Origami — Paper Planes')
          expect(await page.getByTestId('track-count').getAttribute('data-count')).toBe('2')
          await page.getByTestId('nav-artists').click()
          await page.getByTestId('artist-row').filter({ hasText: 'Paper Planes' }).click()
          await expect.poll(() => page.getByTestId('track-count').getAttribute('data-count')).toBe('3')
          await page.getByTestId('nav-all').click()
          expect(problems).toEqual([])
        })

      if (browserNo === 1)
        it('shares playlists and favourites with the node: made in the page or with the CLI', async () => {
          const long = tracks.find((t) => t.title === LONG_TITLE)!
          const updraft = tracks.find((t) => t.title === 'Updraft')!
          await page.getByTestId('search').fill('')
          // A playlist made with the CLI shows in the page, with its tracks.
          const made = await node.cliJson<{ id: string }>(['playlists', 'create', 'From the CLI'])
          await node.cliJson(['playlists', 'add', made.id, updraft.id])
          const cliEntry = page.locator(`[data-testid=nav-playlist][data-playlist-id="${made.id}"]`)
          await expect.poll(() => cliEntry.textContent(), { timeout: 30_000 }).toBe('From the CLI')
          await cliEntry.click()
          await expect
            .poll(() => page.getByTestId('track-row').first().getAttribute('data-track-id'), {
              timeout: 30_000,
            })
            .toBe(updraft.id)

          // A playlist made in the page shows in `cloudless playlists`, in the page's order.
          page.once('dialog', (dialog) => void dialog.accept('Made in the browser'))
          await page.getByTestId('playlist-new').click()
          await expect.poll(() => page.getByTestId('view-title').textContent()).toBe('Made in the browser')
          await page.getByTestId('nav-all').click()
          for (const track of [long, updraft]) {
            await page.locator(`[data-track-id="${track.id}"] [data-testid=track-menu]`).click()
            await page.getByTestId('menu').getByText('Add to Made in the browser').click()
          }
          // And a favourite, and a rating.
          await page.locator(`[data-track-id="${updraft.id}"] [data-testid=fav-toggle]`).click()
          await page.locator(`[data-track-id="${updraft.id}"] [data-testid=track-menu]`).click()
          await page.getByTestId('menu').getByText('Rate ★★★★', { exact: true }).click()
          await expect
            .poll(() => page.locator(`[data-track-id="${updraft.id}"] [data-testid=rating]`).textContent())
            .toBe(' ★★★★')
          const shown = await eventually(
            'the playlist made in the page, on the node',
            async () =>
              (await node.cliJson<Array<{ name: string; trackIds: string[] }>>(['playlists'])).find(
                (p) => p.name === 'Made in the browser',
              ),
            (p) => p?.trackIds.length === 2,
            30_000,
          )
          expect(shown?.trackIds).toEqual([long.id, updraft.id])
          const info = await findRunningNode(node.home)
          await expect
            .poll(
              async () =>
                (await callNodeOp<TrackView[]>(info!, 'tracks', {})).find((t) => t.id === updraft.id)
                  ?.favourite,
              { timeout: 30_000 },
            )
            .toBe(true)
          expect(
            (await callNodeOp<TrackView[]>(info!, 'tracks', {})).find((t) => t.id === updraft.id)?.rating,
          ).toBe(4)
          await page.getByTestId('nav-favourites').click()
          await expect.poll(() => page.getByTestId('track-count').getAttribute('data-count')).toBe('1')
          await page.locator('[data-testid=nav-playlist]', { hasText: 'Made in the browser' }).click()
          await expect.poll(() => page.getByTestId('track-count').getAttribute('data-count')).toBe('2')
          await screenshot(page, 'playlist')
          // The playlist is the queue: N (a keyboard shortcut) goes to its next track, and the
          // Media Session (media keys, lock screen) tells what plays.
          await page.locator(`[data-track-id="${long.id}"]`).click()
          await expect.poll(() => page.getByTestId('now-title').textContent()).toBe(LONG_TITLE)
          await page.keyboard.press('n')
          await expect.poll(() => page.getByTestId('now-title').textContent()).toBe('Updraft')
          expect(await page.evaluate(() => navigator.mediaSession.metadata?.title)).toBe('Updraft')
          await page.getByTestId('nav-all').click()
          expect(problems).toEqual([])
        })

      it('opens again after a reload as the same device, with its catalog, and reconnects', async () => {
        const status = page.getByTestId('status')
        const deviceId = await status.getAttribute('data-device-id')
        await page.reload()
        await expect
          .poll(() => page.getByTestId('track-count').getAttribute('data-count'), { timeout: 30_000 })
          .toBe(String(tracks.length))
        expect(await status.getAttribute('data-device-id')).toBe(deviceId)
        await expect.poll(() => status.getAttribute('data-connected'), { timeout: 30_000 }).toBe('1')
        // A second tab of the same browser does not start a second peer with the same identity.
        const second = await context.newPage()
        await second.goto(page.url())
        await expect.poll(() => second.getByTestId('other-tab').count(), { timeout: 30_000 }).toBe(1)
        await second.close()
        expect(problems).toEqual([])
      })

      if (browserNo === 1)
        it('learns that another device removed it, and is cut off', async () => {
          const status = page.getByTestId('status')
          const browserId = (await status.getAttribute('data-device-id'))!
          const removed = await node.cli(['devices', 'remove', browserId])
          expect(removed.code, removed.stderr).toBe(0)
          await expect
            .poll(() => status.textContent(), { timeout: 30_000 })
            .toContain('removed from the library by another device')
          await expect.poll(() => status.getAttribute('data-connected'), { timeout: 30_000 }).toBe('0')
          const devices = await node.cliJson<DeviceListItem[]>(['devices'])
          expect(devices.find((d) => d.id === browserId)).toMatchObject({ revoked: true, online: false })
        })

      // Last: it stops the node.
      if (browserNo === 2)
        it('keeps an album offline: it plays after the node stopped and the page reloaded', async () => {
          const fold = tracks.find((t) => t.title === 'Fold')!
          const crease = tracks.find((t) => t.title === 'Crease')!
          const updraft = tracks.find((t) => t.title === 'Updraft')!
          await page.getByTestId('search').fill('')
          await page.locator(`[data-track-id="${fold.id}"] [data-testid=track-menu]`).click()
          await page.getByTestId('menu').getByText('Keep the album “Origami” offline').click()
          for (const track of [fold, crease]) {
            await expect
              .poll(() => page.locator(`[data-track-id="${track.id}"]`).getAttribute('data-pin'), {
                timeout: 60_000,
              })
              .toBe('kept')
          }
          // The sidebar says how far it got (two tracks, and any kept earlier in this context).
          await expect
            .poll(() => page.getByTestId('pin-progress').textContent(), { timeout: 30_000 })
            .toMatch(/^Kept offline: [2-9]\d* tracks$/)
          expect(await node.stop()).toBe(0)
          await page.reload()
          await expect
            .poll(() => page.getByTestId('track-count').getAttribute('data-count'), { timeout: 30_000 })
            .toBe(String(tracks.length))
          expect(await page.getByTestId('status').getAttribute('data-connected')).toBe('0')
          await page.locator(`[data-track-id="${fold.id}"]`).click()
          await playsPast(page, 1)
          await screenshot(page, 'offline')
          // A track that was neither kept nor played here cannot play without the node: it says so.
          await page.locator(`[data-track-id="${updraft.id}"]`).click()
          await expect
            .poll(() => page.getByTestId('player-error').textContent(), { timeout: 30_000 })
            .not.toBe('')
        })
    })
  }
})
