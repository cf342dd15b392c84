import type { AbstractSublevel } from 'abstract-level'
import type { BatchOp, RootLevel } from '../../crdt/index.ts'

/**
 * The device's own record of the files it scanned, kept beside the catalog in LevelDB but never
 * replicated: size, mtime and inode say whether a file changed since it was read, so a rescan of an
 * unchanged library only stats files. Junk is recorded too, with its reason, so it is not read again.
 */
export interface FileIndexEntry {
  size: number
  mtimeMs: number
  ino: number
  /** For media: the track this path is a location of, and the content it held when read. */
  trackId?: string
  contentId?: string
  /** For everything else: why it is not in the catalog. */
  skipped?: string
}

type FilesSublevel = AbstractSublevel<RootLevel, unknown, string, FileIndexEntry>

export class FileIndex {
  readonly #db: FilesSublevel

  constructor(root: RootLevel) {
    this.#db = root.sublevel<string, FileIndexEntry>('files', { valueEncoding: 'json' }) as FilesSublevel
  }

  /** Every entry under `root` (a folder path), by path. */
  async entriesUnder(root: string): Promise<Map<string, FileIndexEntry>> {
    const prefix = root.endsWith('/') ? root : `${root}/`
    const out = new Map<string, FileIndexEntry>()
    for await (const [key, value] of this.#db.iterator({ gte: prefix, lt: `${prefix}\uffff` }))
      out.set(key, value)
    return out
  }

  async get(path: string): Promise<FileIndexEntry | undefined> {
    return this.#db.get(path)
  }

  /**
   * get, synchronously once the database is open (LevelDB reads its caches or the disk on this
   * thread: keep to small lookups); before that, as get (getSync throws while it opens).
   */
  getNow(path: string): FileIndexEntry | undefined | Promise<FileIndexEntry | undefined> {
    return this.#db.status === 'open' ? this.#db.getSync(path) : this.#db.get(path)
  }

  putOp(path: string, entry: FileIndexEntry): BatchOp {
    return { type: 'put', sublevel: this.#db, key: path, value: entry }
  }

  delOp(path: string): BatchOp {
    return { type: 'del', sublevel: this.#db, key: path }
  }
}

export function isUnchanged(
  entry: FileIndexEntry | undefined,
  stat: { size: number; mtimeMs: number; ino: number },
) {
  return (
    entry !== undefined &&
    entry.size === stat.size &&
    entry.mtimeMs === stat.mtimeMs &&
    entry.ino === stat.ino
  )
}
