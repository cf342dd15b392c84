import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
export const CHROMIUM = process.env.CLOUDLESS_CHROMIUM ?? '/usr/bin/chromium'

/** Screenshots of the browser tests: kept (gitignored) so that a person can look at them. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/web/', import.meta.url))

export class ChromiumMissingError extends Error {
  override name = 'ChromiumMissingError'
}

/**
 * The flags this machine needs: no sandbox (root), no GPU, and none of Chromium's own background
 * connections (the network here refuses them).
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
]

/** Throws ChromiumMissingError, which says how to install it, when there is no Chromium. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new ChromiumMissingError(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`)
  }
}

/** Headless Chromium with CHROMIUM_ARGS. */
export async function launchChromium(): Promise<Browser> {
  requireChromium()
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--disable-quic', ...CHROMIUM_ARGS],
  })
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await fs.mkdir(ARTIFACTS, { recursive: true })
  const file = path.join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path: file })
  return file
}

/** Collects what the page logs as errors and its uncaught exceptions, for failure messages. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  return problems
}
