import path from 'node:path'
import { callNodeOp, findRunningNode } from '../../control/client.ts'
import { Device } from '../../device/device.ts'
import { scanOp } from '../../ops/library-ops.ts'
import { type ScanReport, scan } from '../../scanner/scanner.ts'
import { watchLibrary } from '../../scanner/watch.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { formatBytes, printJson, println } from '../output.ts'
import { ScanProgressBar } from '../progress-bar.ts'

export const scanCommand: Command = {
  name: 'scan',
  usage: `Usage: cloudless scan [<folder>...] [--watch] [--json]

Finds the music and videos in the folders (and the folders scanned before), reads their tags and
cover art, and updates the library. Unchanged files are not read again.

Options:
  --watch              keep running and pick up added, changed and removed files
  --rescan-minutes <n> with --watch: full rescan every n minutes, for network mounts (default 10)
  --json               print the summary as JSON (with every skipped file and why)
  --home <dir>         this device's data folder
  -h, --help           show this help

Examples:
  cloudless scan ~/Music /mnt/nas/music
  cloudless scan --watch`,
  options: {
    watch: { type: 'boolean' },
    'rescan-minutes': { type: 'string' },
  },
  async run(ctx) {
    const node = await findRunningNode(ctx.home)
    if (node !== undefined) {
      if (ctx.values.watch) throw new UsageError('the running node already watches the library folders')
      if (!ctx.json) println(ctx, `Scanning through the running node (pid ${node.pid})…`)
      printReport(
        ctx,
        await callNodeOp<ScanReport>(node, scanOp.name, { roots: ctx.positionals }, ctx.signal),
      )
      return EXIT_OK
    }
    const device = await Device.open(ctx.home)
    try {
      const given = ctx.positionals.map((p) => path.resolve(p))
      const roots = [...new Set([...device.config.roots, ...given])]
      if (roots.length === 0) throw new UsageError('no folder to scan: name one, e.g. cloudless scan ~/Music')
      if (given.some((r) => !device.config.roots.includes(r)))
        await device.saveConfig({ ...device.config, roots })
      const report = await scanWithProgress(ctx, device, roots)
      printReport(ctx, report)
      if (ctx.values.watch) {
        const minutes = Number(ctx.values['rescan-minutes'] ?? 10)
        if (!(minutes > 0)) throw new UsageError('--rescan-minutes takes a number of minutes above 0')
        if (!ctx.json) println(ctx, `Watching ${roots.length} folder(s) for changes; press Ctrl+C to stop.`)
        await watchLibrary(device, roots, {
          signal: ctx.signal,
          rescanEveryMs: minutes * 60_000,
          onScan: (r) => {
            if (r.read > 0 || r.removed > 0) printReport(ctx, r)
          },
          onError: (error) => ctx.stderr.write(`cloudless: rescan failed: ${error.message}\n`),
        })
      }
      return EXIT_OK
    } finally {
      await device.close()
    }
  },
}

export async function scanWithProgress(
  ctx: CommandContext,
  device: Device,
  roots: string[],
): Promise<ScanReport> {
  const bar = new ScanProgressBar(ctx.stderr)
  try {
    return await scan(device, roots, { signal: ctx.signal, onProgress: (p) => bar.update(p) })
  } finally {
    bar.clear()
  }
}

export function printReport(ctx: CommandContext, report: ScanReport): void {
  if (ctx.json) {
    printJson(ctx, report)
    return
  }
  const seconds = report.durationMs / 1000
  println(
    ctx,
    `Scanned ${report.files} files in ${seconds.toFixed(2)} s: ${report.read} read (${formatBytes(report.bytesRead)}), ` +
      `${report.unchanged} unchanged; ${report.added} added, ${report.updated} updated, ${report.removed} removed.`,
  )
  println(ctx, `This device holds ${report.tracks} tracks and videos.`)
  if (report.skipped.length > 0) {
    println(ctx, `Skipped ${report.skipped.length} files:`)
    for (const s of report.skipped) println(ctx, `  ${s.path}: ${s.reason}`)
  }
}
