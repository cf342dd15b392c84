import { promises as fs } from 'node:fs'
import os from 'node:os'
import { writeFileAtomic } from '../../blobs/index.ts'

/** Settings that belong to this device only (the catalog holds what all devices share). */
export interface DeviceConfig {
  deviceName: string
  /** Library folders this device scans, as absolute paths. */
  roots: string[]
}

export class ConfigFileError extends Error {
  override name = 'ConfigFileError'
}

export function defaultConfig(): DeviceConfig {
  return { deviceName: os.hostname(), roots: [] }
}

export async function readConfig(file: string): Promise<DeviceConfig> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig()
    throw error
  }
  let parsed: Partial<DeviceConfig>
  try {
    parsed = JSON.parse(text) as Partial<DeviceConfig>
  } catch (error) {
    throw new ConfigFileError(`${file} is not valid JSON (${(error as Error).message}); fix or remove it`)
  }
  const defaults = defaultConfig()
  return {
    deviceName: typeof parsed.deviceName === 'string' ? parsed.deviceName : defaults.deviceName,
    roots: Array.isArray(parsed.roots) ? parsed.roots.filter((r) => typeof r === 'string') : [],
  }
}

export async function writeConfig(file: string, config: DeviceConfig): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`)
}
