import { promises as fs } from 'node:fs'
import { Device } from '../../src/node/device/device.ts'
import { tempDir } from './fixtures.ts'

/** A device with its own temporary home dir; `dispose` closes it and removes the dir. */
export async function tempDevice(): Promise<{
  device: Device
  home: string
  reopen(): Promise<Device>
  dispose(): Promise<void>
}> {
  const home = await tempDir('home')
  let device = await Device.open(home)
  return {
    get device() {
      return device
    },
    home,
    async reopen() {
      await device.close()
      device = await Device.open(home)
      return device
    },
    async dispose() {
      await device.close().catch(() => {})
      await fs.rm(home, { recursive: true, force: true })
    },
  }
}
