/**
 * Facts about a built home's catalog, in a fresh process (the sync benchmark notes them once, when it
 * builds its cached home):
 *
 *   node bench/lib/sync-state-child.ts <home>
 *
 * Prints one JSON line (StateFacts): tracks, locations, the size of the full Yjs state (what pairing
 * sends a new device), how long encoding it took, and the device id of the home.
 */
import * as Y from 'yjs'
import { Device } from '../../src/node/device/device.ts'

export interface StateFacts {
  deviceId: string
  tracks: number
  locations: number
  stateBytes: number
  encodeMs: number
  openMs: number
}

async function main(): Promise<void> {
  const home = process.argv[2]
  if (home === undefined) {
    process.stderr.write('usage: node bench/lib/sync-state-child.ts <home>\n')
    process.exit(2)
  }
  const openStart = performance.now()
  const device = await Device.open(home)
  const openMs = performance.now() - openStart
  try {
    const encodeStart = performance.now()
    const state = Y.encodeStateAsUpdate(device.catalog.doc)
    const facts: StateFacts = {
      deviceId: device.deviceId,
      tracks: device.catalog.trackCount,
      locations: device.catalog.holdingsOf(device.deviceId).files,
      stateBytes: state.length,
      encodeMs: performance.now() - encodeStart,
      openMs,
    }
    process.stdout.write(`${JSON.stringify(facts)}\n`)
  } finally {
    await device.close()
  }
}

await main()
