import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from '../helpers/browser.ts'
import { nsOf, type Place } from './bed.ts'

/**
 * Chromium inside one of the bed's namespaces: Playwright starts a small wrapper that runs
 * `ip netns exec <namespace> chromium ...` (same process, so Playwright's pipe to it works as
 * usual), with a profile (user data dir) of its own. A profile used at home and then in the hotel
 * is one browser that travelled: its identity, catalog and service worker are in it.
 */
export class NamespacedChromium {
  readonly profile: string
  readonly #scripts: string

  private constructor(profile: string, scripts: string) {
    this.profile = profile
    this.#scripts = scripts
  }

  static async create(): Promise<NamespacedChromium> {
    requireChromium()
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cloudless-nat-chromium-'))
    const profile = path.join(dir, 'profile')
    await fs.mkdir(profile)
    return new NamespacedChromium(profile, dir)
  }

  /** Opens the browser in `place`; close the context to stop it. */
  async open(place: Place): Promise<BrowserContext> {
    const wrapper = path.join(this.#scripts, `chromium-${place}`)
    await fs.writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${nsOf(place)} ${CHROMIUM} "$@"\n`, {
      mode: 0o755,
    })
    return chromium.launchPersistentContext(this.profile, {
      executablePath: wrapper,
      args: CHROMIUM_ARGS,
    })
  }

  async dispose(): Promise<void> {
    await fs.rm(this.#scripts, { recursive: true, force: true })
  }
}
