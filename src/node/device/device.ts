import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import type { PrivateKey } from '@libp2p/interface'
import { Level } from 'level'
import { base32Encode, FsBlobStore } from '../../blobs/index.ts'
import { Catalog, LevelCatalogStore, type RootLevel } from '../../crdt/index.ts'
import { type DeviceConfig, readConfig, writeConfig } from './config.ts'
import { type HomeLayout, homeLayout } from './home.ts'
import { loadOrCreateIdentity } from './identity.ts'

export class HomeInUseError extends Error {
  override name = 'HomeInUseError'
}

/**
 * A device's local state, opened from its home dir: identity, settings, the LevelDB database
 * (catalog, file index, manifests) and the cover store. LevelDB admits one process at a time.
 */
export class Device {
  readonly layout: HomeLayout
  readonly deviceId: string
  readonly privateKey: PrivateKey
  readonly db: RootLevel
  readonly catalog: Catalog
  readonly store: LevelCatalogStore
  readonly covers: FsBlobStore
  config: DeviceConfig

  private constructor(init: {
    layout: HomeLayout
    deviceId: string
    privateKey: PrivateKey
    db: RootLevel
    catalog: Catalog
    store: LevelCatalogStore
    config: DeviceConfig
  }) {
    this.layout = init.layout
    this.deviceId = init.deviceId
    this.privateKey = init.privateKey
    this.db = init.db
    this.catalog = init.catalog
    this.store = init.store
    this.config = init.config
    this.covers = new FsBlobStore(init.layout.covers)
  }

  static async open(homeDir: string): Promise<Device> {
    const layout = homeLayout(homeDir)
    await fs.mkdir(layout.home, { recursive: true, mode: 0o700 })
    const { privateKey, deviceId } = await loadOrCreateIdentity(layout.identity)
    const config = await readConfig(layout.config)
    const db = new Level<string, unknown>(layout.db, { valueEncoding: 'json' }) as unknown as RootLevel
    try {
      await db.open()
    } catch (error) {
      throw describeOpenError(error, layout.home)
    }
    const catalog = new Catalog()
    const store = await LevelCatalogStore.open(db, catalog.doc)
    try {
      catalog.checkSchema()
    } catch (error) {
      await store.close().catch(() => {})
      await db.close().catch(() => {})
      throw new Error(
        `${(error as Error).message}: it was made by an earlier development version. Move ${layout.home} aside and scan again.`,
      )
    }
    const device = new Device({ layout, deviceId, privateKey, db, catalog, store, config })
    device.#registerSelf()
    return device
  }

  /** A new device starts its own library; it gets another library's id by joining it. */
  #registerSelf(): void {
    this.catalog.transact(() => {
      this.catalog.initLibrary(base32Encode(randomBytes(16)))
      const existing = this.catalog.devices.get(this.deviceId)
      if (existing === undefined || existing.name !== this.config.deviceName) {
        this.catalog.putDevice(this.deviceId, {
          ...existing,
          name: this.config.deviceName,
          addedAt: existing?.addedAt ?? Date.now(),
        })
      }
    })
  }

  async saveConfig(config: DeviceConfig): Promise<void> {
    await writeConfig(this.layout.config, config)
    this.config = config
  }

  /** Renames this device, in its settings and in the library's device list. */
  async rename(name: string): Promise<void> {
    const deviceName = name.trim()
    if (deviceName === '' || deviceName === this.config.deviceName) return
    await this.saveConfig({ ...this.config, deviceName })
    this.#registerSelf()
  }

  async close(): Promise<void> {
    try {
      await this.store.close()
    } finally {
      await this.db.close()
    }
  }
}

function describeOpenError(error: unknown, home: string): Error {
  const cause = (error as { cause?: { code?: string } }).cause
  if (cause?.code === 'LEVEL_LOCKED') {
    return new HomeInUseError(
      `another cloudless process is using ${home} (a running node?). Stop it, or use another --home.`,
    )
  }
  return error instanceof Error ? error : new Error(String(error))
}
