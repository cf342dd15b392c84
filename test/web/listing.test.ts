import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TrackView } from '../../src/crdt/index.ts'
import { callNodeOp, findRunningNode } from '../../src/node/control/client.ts'
import { launchChromium, pageProblems, screenshot } from '../helpers/browser.ts'
import { copyFixtureLibrary, FIXTURE_LIBRARY } from '../helpers/fixtures.ts'
import { NodeProcess } from '../helpers/node-process.ts'

/**
 * "All tracks" in a real Chromium against a real node: the page keeps the order of the list in
 * IndexedDB and opens with it (no full listing), places changed tracks one by one (no full
 * listing either), and in every case shows exactly the order the node's full listing gives.
 */
describe('the list of all tracks', { timeout: 180_000 }, () => {
  let node: NodeProcess
  let library: string
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let problems: string[] = []

  const nodeTracks = async () => callNodeOp<TrackView[]>((await findRunningNode(node.home))!, 'tracks', {})
  const nodeOrder = async () => (await nodeTracks()).map((t) => t.id)
  const pageOrder = () =>
    page.evaluate(() => [
      ...(globalThis as unknown as { cloudlessLibrary: { order: string[] } }).cloudlessLibrary.order,
    ])
  const marks = (name: string) =>
    page.evaluate((n) => performance.getEntriesByName(n) as PerformanceMark[], name).then((m) => m.length)
  const keptOrderUsed = () =>
    page.evaluate(
      () =>
        (performance.getEntriesByName('cloudless:tracks-listed')[0] as PerformanceMark | undefined)?.detail
          ?.kept === true,
    )
  /** Waits until IndexedDB holds the order of the page's catalog as it is now. */
  const orderKept = () =>
    page.waitForFunction(
      () =>
        (globalThis as unknown as { cloudlessLibrary: { orderKept: boolean } }).cloudlessLibrary.orderKept,
      undefined,
      { timeout: 30_000, polling: 100 },
    )
  const edit = async (args: string[]) => {
    const result = await node.cli(['edit', ...args])
    expect(result.code, result.stderr).toBe(0)
  }

  beforeAll(async () => {
    library = await copyFixtureLibrary()
    node = await NodeProcess.create('home')
    const scanned = await node.cli(['scan', library, '--json'])
    expect(scanned.code, scanned.stderr).toBe(0)
    await node.start()
    browser = await launchChromium()
    context = await browser.newContext()
    page = await context.newPage()
    problems = pageProblems(page)
  })

  afterAll(async () => {
    await context?.close()
    await browser?.close()
    await node?.dispose()
    if (library !== undefined) await fs.rm(library, { recursive: true, force: true })
  })

  it('lists in the order of the node’s full listing', async () => {
    const invite = await node.cliJson<{ webLink: string }>(['invite'])
    await page.goto(invite.webLink)
    const count = (await nodeTracks()).length
    await expect
      .poll(() => page.getByTestId('track-count').getAttribute('data-count'), { timeout: 60_000 })
      .toBe(String(count))
    expect(await pageOrder()).toEqual(await nodeOrder())
  })

  it('places changed tracks without listing everything again, in the same order as a full listing', async () => {
    const listedBefore = await marks('cloudless:listed-all')
    const tracks = await nodeTracks()
    const last = tracks.at(-1)!
    const middle = tracks[Math.floor(tracks.length / 2)]!
    // Moves the last track to the top, and another one within its album.
    await edit([last.id, '--album-artist', '!!! First of all'])
    await edit([middle.id, '--title', 'zzz Retitled', '--track', '99'])
    const fav = await node.cli(['fav', tracks[1]!.id])
    expect(fav.code, fav.stderr).toBe(0)
    // A new file in a new folder (a new key of the catalog): other bytes, so a track of its own.
    await fs.mkdir(path.join(library, 'New Folder'))
    const copy = path.join(library, 'New Folder', 'copy.mp3')
    await fs.copyFile(path.join(FIXTURE_LIBRARY, 'Paper Planes', 'Kites', '01 Updraft.mp3'), copy)
    await fs.appendFile(copy, Buffer.alloc(4096))
    const scanned = await node.cli(['scan', library])
    expect(scanned.code, scanned.stderr).toBe(0)
    const expected = await nodeOrder()
    expect(expected).toHaveLength(tracks.length + 1)
    expect(expected.indexOf(last.id)).toBeLessThan(tracks.length - 1)
    await expect.poll(pageOrder, { timeout: 30_000 }).toEqual(expected)
    await expect
      .poll(() =>
        page
          .locator(`[data-track-id="${tracks[1]!.id}"] [data-testid=fav-toggle]`)
          .getAttribute('aria-pressed'),
      )
      .toBe('true')
    expect(await page.getByTestId('track-row').first().getAttribute('data-track-id')).toBe(expected[0])
    expect(await marks('cloudless:listed-all')).toBe(listedBefore)
    await screenshot(page, 'listing-after-changes')
  })

  it('opens with the order kept in IndexedDB; a change made while it was closed lands in order', async () => {
    await orderKept()
    await page.reload()
    await page.getByTestId('track-row').first().waitFor({ timeout: 30_000 })
    expect(await keptOrderUsed()).toBe(true)
    expect(await marks('cloudless:listed-all')).toBe(0)
    expect(await pageOrder()).toEqual(await nodeOrder())
    // A row of the kept order plays: it is a track of the loaded catalog.
    const first = page.getByTestId('track-row').first()
    const id = await first.getAttribute('data-track-id')
    await first.click()
    // An <audio> or, for a video, a <video> element plays it.
    const playing = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('audio, video')].map((e) => e.getAttribute('src')).filter(Boolean),
      )
    expect(await playing()).toEqual([`media/${id}`])
    await page.evaluate(() => {
      for (const e of document.querySelectorAll<HTMLMediaElement>('audio, video')) e.pause()
    })

    // Changed while the page was closed: the page opens with the catalog it kept, then syncs.
    await page.goto('about:blank')
    const tracks = await nodeTracks()
    await edit([tracks[0]!.id, '--album-artist', 'zzz Last of all'])
    const expected = await nodeOrder()
    expect(expected.at(-1)).toBe(tracks[0]!.id)
    await page.goto(`${node.description!.http}/`)
    await page.getByTestId('track-row').first().waitFor({ timeout: 30_000 })
    // The page shows the catalog it had (IndexedDB), then syncs the edit; either way in order.
    await expect.poll(pageOrder, { timeout: 30_000 }).toEqual(expected)
    expect(problems).toEqual([])
  })
})
