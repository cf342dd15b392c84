/**
 * One Cloudless scan in a fresh process, as a user's `cloudless scan` would run it:
 *
 *   node bench/lib/scan-child.ts <home> <folder>
 *
 * Opens the device at <home> (created if new), remembers <folder> as a root like the CLI does, scans
 * it, closes the device (which compacts the catalog) and prints one JSON line (ScanChildResult).
 */
import path from 'node:path'
import { Device } from '../../src/node/device/device.ts'
import { scan } from '../../src/node/scanner/scanner.ts'

export interface ScanChildResult {
  openMs: number
  scanMs: number
  /** CPU time of the whole process (all threads) during scan(), user + system. */
  scanCpuMs: number
  closeMs: number
  files: number
  read: number
  bytesRead: number
  unchanged: number
  added: number
  updated: number
  removed: number
  tracks: number
  skipped: number
  skippedExamples: Array<{ path: string; reason: string }>
  reportDurationMs: number
  maxRssMB: number
  heapUsedMB: number
}

async function main(): Promise<void> {
  const [home, folder] = process.argv.slice(2)
  if (home === undefined || folder === undefined) {
    process.stderr.write('usage: node bench/lib/scan-child.ts <home> <folder>\n')
    process.exit(2)
  }
  const root = path.resolve(folder)
  const openStart = performance.now()
  const device = await Device.open(home)
  const openMs = performance.now() - openStart
  try {
    if (!device.config.roots.includes(root))
      await device.saveConfig({ ...device.config, roots: [...device.config.roots, root] })
    const scanStart = performance.now()
    const cpuStart = process.cpuUsage()
    const report = await scan(device, [root])
    const cpu = process.cpuUsage(cpuStart)
    const scanMs = performance.now() - scanStart
    const heapUsedMB = process.memoryUsage().heapUsed / 1024 / 1024
    const closeStart = performance.now()
    await device.close()
    const closeMs = performance.now() - closeStart
    const result: ScanChildResult = {
      openMs,
      scanMs,
      scanCpuMs: (cpu.user + cpu.system) / 1000,
      closeMs,
      files: report.files,
      read: report.read,
      bytesRead: report.bytesRead,
      unchanged: report.unchanged,
      added: report.added,
      updated: report.updated,
      removed: report.removed,
      tracks: report.tracks,
      skipped: report.skipped.length,
      skippedExamples: report.skipped.slice(0, 5),
      reportDurationMs: report.durationMs,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
      heapUsedMB,
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } catch (error) {
    await device.close().catch(() => {})
    throw error
  }
}

await main()
