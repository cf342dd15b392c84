import type { AbstractSublevel } from 'abstract-level'
import { decodeManifest, encodeManifest, type Manifest } from '../../blobs/index.ts'
import type { BatchOp, RootLevel } from '../../crdt/index.ts'

/** Block manifests of the files this device holds, by content ID (needed to serve verified blocks). */
export class ManifestStore {
  readonly #db: AbstractSublevel<RootLevel, unknown, string, Uint8Array>

  constructor(root: RootLevel) {
    this.#db = root.sublevel<string, Uint8Array>('manifests', { valueEncoding: 'view' }) as AbstractSublevel<
      RootLevel,
      unknown,
      string,
      Uint8Array
    >
  }

  async get(contentId: string): Promise<Manifest | undefined> {
    const bytes = await this.#db.get(contentId)
    return bytes === undefined ? undefined : decodeManifest(bytes)
  }

  /** get, synchronously once the database is open (see FileIndex.getNow). */
  getNow(contentId: string): Manifest | undefined | Promise<Manifest | undefined> {
    if (this.#db.status !== 'open') return this.get(contentId)
    const bytes = this.#db.getSync(contentId)
    return bytes === undefined ? undefined : decodeManifest(bytes)
  }

  putOp(contentId: string, manifest: Manifest): BatchOp {
    return { type: 'put', sublevel: this.#db, key: contentId, value: encodeManifest(manifest) }
  }
}
