import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TrackView } from '../../src/crdt/index.ts'
import { callNodeOp, findRunningNode } from '../../src/node/control/client.ts'
import type { DeviceListItem } from '../../src/node/ops/network-ops.ts'
import { launchChromium, pageProblems, screenshot } from '../helpers/browser.ts'
import { FIXTURE_LIBRARY, tempDir } from '../helpers/fixtures.ts'
import { NodeProcess } from '../helpers/node-process.ts'

/**
 * The node's own page on the same machine: `cloudless start` prints the web app's address with
 * the node's token in the fragment; a browser that opens it shows the library without any invite
 * step, and its "invite another device" link pairs another browser. Being on 127.0.0.1 alone earns
 * no trust: the plain address, or a wrong token, pairs nothing.
 */
describe('the web app on the node’s own machine', { timeout: 180_000 }, () => {
  let node: NodeProcess
  let library: string
  let browser: Browser
  let webApp: string
  let trackCount = 0

  const countOf = (page: Page) => page.getByTestId('track-count').getAttribute('data-count')
  const deviceIds = async () => (await node.cliJson<DeviceListItem[]>(['devices'])).map((d) => d.id)

  beforeAll(async () => {
    library = await tempDir('local-link-library')
    await fs.cp(path.join(FIXTURE_LIBRARY, 'Paper Planes'), path.join(library, 'Paper Planes'), {
      recursive: true,
    })
    node = await NodeProcess.create('home')
    const scanned = await node.cli(['scan', library, '--json'])
    expect(scanned.code, scanned.stderr).toBe(0)
    const description = (await node.start()) as Awaited<ReturnType<NodeProcess['start']>> & { webApp: string }
    webApp = description.webApp
    const info = await findRunningNode(node.home)
    trackCount = (await callNodeOp<TrackView[]>(info!, 'tracks', {})).length
    expect(trackCount).toBeGreaterThan(0)
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await node?.dispose()
    if (library !== undefined) await fs.rm(library, { recursive: true, force: true })
  })

  it('prints the address with the token of node.json in its fragment', async () => {
    const info = await findRunningNode(node.home)
    expect(webApp).toBe(`${node.description!.http}/#local=${info!.token}`)
  })

  it('trusts no page for being on 127.0.0.1: the plain address and a wrong token pair nothing', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(`${node.description!.http}/`)
      await page.getByTestId('pair-view').waitFor({ timeout: 60_000 })
      const wrong = `${node.description!.http}/#local=${'x'.repeat(32)}`
      await page.goto(wrong)
      await expect
        .poll(() => page.getByTestId('pair-message').textContent(), { timeout: 60_000 })
        .toMatch(/does not accept this key/)
      expect(page.url()).not.toContain('local=')
      expect(await page.getByTestId('library-view').count()).toBe(0)
      expect(await deviceIds()).toHaveLength(1)
    } finally {
      await context.close()
    }
  })

  it('opens the printed address: the library, no invite step; later visits need only the address', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const problems = pageProblems(page)
    await page.goto(webApp)
    await expect.poll(() => countOf(page), { timeout: 60_000 }).toBe(String(trackCount))
    // The token leaves the address bar.
    expect(page.url()).toBe(`${node.description!.http}/`)
    const status = page.getByTestId('status')
    const browserId = await status.getAttribute('data-device-id')
    expect(await deviceIds()).toContain(browserId)
    await screenshot(page, 'local-link-library')

    await page.goto(`${node.description!.http}/`)
    await expect.poll(() => countOf(page), { timeout: 60_000 }).toBe(String(trackCount))
    expect(await page.getByTestId('pair-view').count()).toBe(0)
    await expect.poll(() => status.getAttribute('data-connected'), { timeout: 30_000 }).toBe('1')

    // A link with a wrong token changes nothing: the page stays paired and keeps the good token.
    await page.goto('about:blank')
    await page.goto(`${node.description!.http}/#local=${'y'.repeat(32)}`)
    await expect.poll(() => countOf(page), { timeout: 60_000 }).toBe(String(trackCount))
    expect(page.url()).toBe(`${node.description!.http}/`)

    // "Invite another device": a web link that pairs a second browser.
    await page.getByTestId('invite-device').click()
    const link = page.getByTestId('invite-web-link')
    await link.waitFor({ timeout: 30_000 })
    const webLink = await link.getAttribute('href')
    expect(webLink).toMatch(new RegExp(`^${node.description!.http}/#join=[A-Za-z0-9_-]+$`))
    expect(await page.getByTestId('invite-link').textContent()).toMatch(
      /^cloudless join 'cloudless:\/\/join#/,
    )
    await screenshot(page, 'local-link-invite')

    const other = await browser.newContext()
    try {
      const second = await other.newPage()
      await second.goto(webLink!)
      await expect.poll(() => countOf(second), { timeout: 60_000 }).toBe(String(trackCount))
      const secondId = await second.getByTestId('status').getAttribute('data-device-id')
      expect(secondId).not.toBe(browserId)
      const ids = await deviceIds()
      expect(ids).toEqual(expect.arrayContaining([browserId, secondId]))
      expect(ids).toHaveLength(3)
      await screenshot(second, 'local-link-second-browser')
    } finally {
      await other.close()
    }
    // Only the refusal of the wrong token, which the browser logs as a failed load.
    expect(problems).toEqual([
      'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ])
    await context.close()
  })
})
