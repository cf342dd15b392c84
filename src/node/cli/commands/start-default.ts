import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { findRunningNode } from '../../control/client.ts'
import { readNodeInfo } from '../../control/node-info.ts'
import { Device } from '../../device/device.ts'
import { localWebLink } from '../../http/local-link.ts'
import { createLogger } from '../../log.ts'
import type { Command } from '../command.ts'
import { EXIT_OK } from '../errors.ts'
import { loadNode } from '../load-node.ts'
import { println } from '../output.ts'
import { printReport, scanWithProgress } from './scan.ts'

const BUNDLED_LIBRARY = fileURLToPath(new URL('../../../../test/fixtures/library', import.meta.url))

/**
 * What `npm start` runs: index the library folders this device knows, or ~/Music, or (on a machine
 * with neither) the small library bundled with Cloudless, print what is there, then keep running as
 * the device's node (`cloudless start`) until Ctrl+C.
 */
export const startDefaultCommand: Command = {
  name: 'start-default',
  usage: `Usage: npm start   (cloudless start-default [--json])

Indexes the folders this device already scans; on first use ~/Music when it exists, otherwise the
sample library bundled with Cloudless. Then runs the device's node (as cloudless start does) until
Ctrl+C; --no-node stops after the scan.`,
  options: { 'no-node': { type: 'boolean' } },
  async run(ctx) {
    const running = await findRunningNode(ctx.home)
    if (running !== undefined) {
      println(ctx, `This device's node is already running (pid ${running.pid}); try: npm start -- status`)
      return EXIT_OK
    }
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
    } finally {
      await device.close()
    }
    if (ctx.values['no-node']) return EXIT_OK
    const node = await (await loadNode()).start({ home: ctx.home, log: createLogger('warn', ctx.stderr) })
    if (!ctx.json) {
      // A browser is a device of its own. On this machine it joins through the node's token, which
      // the link carries in its fragment (it never reaches a server); later visits need only the
      // address. Other devices join with an invite the page or `cloudless invite` makes.
      const info = await readNodeInfo(node.device.layout.nodeInfo)
      println(ctx)
      println(
        ctx,
        `Web player: ${info === undefined ? `${node.http.url}/` : localWebLink(node.http.url, info.token)}`,
      )
      println(
        ctx,
        '  open it in a browser on this machine (the link carries the key of this node: keep it to',
      )
      println(ctx, '  yourself); the page offers invite links for your other devices.')
      println(ctx)
      println(
        ctx,
        `The node of ${node.device.config.deviceName} is running; press Ctrl+C to stop it. In another terminal:`,
      )
      println(ctx, '  npm start -- tracks             list the library')
      println(ctx, '  npm start -- invite             pair another device (it runs: cloudless join <invite>)')
      println(
        ctx,
        `  ffplay ${node.http.url}/stream/<trackId>   play any track, from whichever device holds it`,
      )
      println(ctx, '  npm start -- --help             all commands')
    }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve()
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await node.stop()
    return EXIT_OK
  },
}
