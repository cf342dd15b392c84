/**
 * The catalog load test, in fresh processes:
 *
 *   node bench/lib/catalog-child.ts build <home> <tracks>   writes a synthetic catalog, closes (compacts)
 *   node bench/lib/catalog-child.ts load <home>             opens it and lists every track
 *
 * Each prints one JSON line (BuildResult or LoadResult).
 */
import { listTracks } from '../../src/crdt/index.ts'
import { Device } from '../../src/node/device/device.ts'
import { syntheticTrack } from './synthetic-tracks.ts'

export interface BuildResult {
  tracks: number
  writeMs: number
  closeMs: number
  maxRssMB: number
}

export interface LoadResult {
  openMs: number
  openCpuMs: number
  listMs: number
  tracks: number
  heapUsedMB: number
  maxRssMB: number
}

const TRANSACTION_SIZE = 5000

async function build(home: string, count: number): Promise<BuildResult> {
  const device = await Device.open(home)
  const writeStart = performance.now()
  try {
    for (let from = 0; from < count; from += TRANSACTION_SIZE) {
      const to = Math.min(count, from + TRANSACTION_SIZE)
      device.catalog.transact(() => {
        for (let i = from; i < to; i++) {
          const track = syntheticTrack(i)
          device.catalog.putFile(device.deviceId, track.path, track.id, track.record)
        }
      })
      await device.store.flush()
    }
  } catch (error) {
    await device.close().catch(() => {})
    throw error
  }
  const writeMs = performance.now() - writeStart
  const closeStart = performance.now()
  await device.close()
  return {
    tracks: count,
    writeMs,
    closeMs: performance.now() - closeStart,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  }
}

async function load(home: string): Promise<LoadResult> {
  const openStart = performance.now()
  const cpuStart = process.cpuUsage()
  const device = await Device.open(home)
  const cpu = process.cpuUsage(cpuStart)
  const openMs = performance.now() - openStart
  try {
    const listStart = performance.now()
    const tracks = listTracks(device.catalog)
    const listMs = performance.now() - listStart
    return {
      openMs,
      openCpuMs: (cpu.user + cpu.system) / 1000,
      listMs,
      tracks: tracks.length,
      heapUsedMB: process.memoryUsage().heapUsed / 1024 / 1024,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
    }
  } finally {
    await device.close()
  }
}

async function main(): Promise<void> {
  const [mode, home, count] = process.argv.slice(2)
  let result: BuildResult | LoadResult
  if (mode === 'build' && home !== undefined && Number(count) > 0) result = await build(home, Number(count))
  else if (mode === 'load' && home !== undefined) result = await load(home)
  else {
    process.stderr.write('usage: node bench/lib/catalog-child.ts build <home> <tracks> | load <home>\n')
    process.exit(2)
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

await main()
