import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Device } from '../../device/device.ts'
import type { Command } from '../command.ts'
import { EXIT_OK } from '../errors.ts'
import { println } from '../output.ts'
import { printReport, scanWithProgress } from './scan.ts'

const BUNDLED_LIBRARY = fileURLToPath(new URL('../../../../test/fixtures/library', import.meta.url))

/**
 * What `npm start` runs: index the library folders this device knows, or ~/Music, or (on a machine
 * with neither) the small library bundled with Cloudless, and print what is there.
 */
export const startDefaultCommand: Command = {
  name: 'start-default',
  summary: 'What npm start runs: index ~/Music (or the bundled sample library)',
  usage: `Usage: npm start   (cloudless start-default [--json])

Indexes the folders this device already scans; on first use ~/Music when it exists, otherwise the
sample library bundled with Cloudless. Then lists what the library holds.`,
  options: {},
  async run(ctx) {
    const device = await Device.open(ctx.home)
    try {
      let roots = device.config.roots
      if (roots.length === 0) {
        const music = path.join(os.homedir(), 'Music')
        roots = [existsSync(music) ? music : BUNDLED_LIBRARY]
        await device.saveConfig({ ...device.config, roots })
      }
      if (!ctx.json) println(ctx, `Cloudless: indexing ${roots.join(', ')} into ${ctx.home}`)
      const report = await scanWithProgress(ctx, device, roots)
      printReport(ctx, report)
      if (!ctx.json) {
        println(ctx)
        println(ctx, 'Next: npm start -- tracks    (list the library)')
        println(ctx, '      npm start -- --help    (all commands)')
      }
      return EXIT_OK
    } finally {
      await device.close()
    }
  },
}
