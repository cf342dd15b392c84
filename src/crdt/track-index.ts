import { type FolderHeader, HEADER_STRIDE } from './track-codec.ts'

/**
 * Which folders hold which tracks, derived from the `files` map and kept in step with it, so that a
 * track's record and locations are found without parsing the whole catalog.
 *
 * Memory matters here (it is per track): a track held by one plain file, the usual case, costs one
 * map entry whose value is the folder key string that the folder map already holds. Only tracks with
 * several files, or a retagged file (content id not the track id), get an array.
 */
export class TrackIndex {
  /** trackId -> folder key of each file holding it (repeated when a folder holds it twice). */
  readonly #byTrack = new Map<string, string | string[]>()
  /** folder key -> the track id of each of its files, to undo a folder's contribution. */
  readonly #byFolder = new Map<string, string[]>()
  /** contentId -> trackIds, for files whose content id is not their track id (retagged files). */
  readonly #retagged = new Map<string, Map<string, number>>()
  /** folder key -> total size of its files. */
  readonly #folderBytes = new Map<string, number>()
  /** folder key -> [contentId, trackId] pairs of its retagged files. */
  readonly #retaggedByFolder = new Map<string, Array<[string, string]>>()

  get trackCount(): number {
    return this.#byTrack.size
  }

  trackIds(): IterableIterator<string> {
    return this.#byTrack.keys()
  }

  has(trackId: string): boolean {
    return this.#byTrack.has(trackId)
  }

  /** Folder keys holding the track, one per file (a key repeats for two files in one folder). */
  holders(trackId: string): readonly string[] {
    const held = this.#byTrack.get(trackId)
    return held === undefined ? [] : typeof held === 'string' ? [held] : held
  }

  fileCount(trackId: string): number {
    const held = this.#byTrack.get(trackId)
    return held === undefined ? 0 : typeof held === 'string' ? 1 : held.length
  }

  folderKeys(): IterableIterator<string> {
    return this.#byFolder.keys()
  }

  /** Total size of the folder's files. */
  bytesIn(key: string): number {
    return this.#folderBytes.get(key) ?? 0
  }

  /** The track id of each file of the folder. */
  tracksIn(key: string): readonly string[] {
    return this.#byFolder.get(key) ?? []
  }

  /** Track ids of the files that hold this content. */
  tracksOfContent(contentId: string): string[] {
    const out: string[] = []
    const retagged = this.#retagged.get(contentId)
    // A track whose id is this content id, unless every file of it now holds other content.
    const plain = this.fileCount(contentId) - (this.#retaggedFilesOf(contentId) ?? 0)
    if (plain > 0) out.push(contentId)
    if (retagged !== undefined) for (const trackId of retagged.keys()) out.push(trackId)
    return out
  }

  /** Replaces what `key` contributes with the files of `header` (undefined: the folder is gone). */
  setFolder(key: string, header: FolderHeader | undefined): void {
    this.#removeFolder(key)
    if (header === undefined || header.length === 0) return
    const ids: string[] = []
    const retagged: Array<[string, string]> = []
    let bytes = 0
    for (let at = 0; at < header.length; at += HEADER_STRIDE) {
      const trackId = header[at + 1] as string
      const contentId = header[at + 2] as string
      bytes += header[at + 3] as number
      ids.push(trackId)
      const held = this.#byTrack.get(trackId)
      if (held === undefined) this.#byTrack.set(trackId, key)
      else if (typeof held === 'string') this.#byTrack.set(trackId, [held, key])
      else held.push(key)
      if (contentId !== '') {
        retagged.push([contentId, trackId])
        let tracks = this.#retagged.get(contentId)
        if (tracks === undefined) {
          tracks = new Map()
          this.#retagged.set(contentId, tracks)
        }
        tracks.set(trackId, (tracks.get(trackId) ?? 0) + 1)
      }
    }
    this.#byFolder.set(key, ids)
    this.#folderBytes.set(key, bytes)
    if (retagged.length > 0) this.#retaggedByFolder.set(key, retagged)
  }

  #removeFolder(key: string): void {
    const ids = this.#byFolder.get(key)
    if (ids === undefined) return
    this.#byFolder.delete(key)
    this.#folderBytes.delete(key)
    for (const trackId of ids) {
      const held = this.#byTrack.get(trackId)
      if (held === undefined) continue
      if (typeof held === 'string') {
        this.#byTrack.delete(trackId)
        continue
      }
      const at = held.indexOf(key)
      if (at >= 0) held.splice(at, 1)
      if (held.length === 1) this.#byTrack.set(trackId, held[0]!)
      else if (held.length === 0) this.#byTrack.delete(trackId)
    }
    const retagged = this.#retaggedByFolder.get(key)
    if (retagged === undefined) return
    this.#retaggedByFolder.delete(key)
    for (const [contentId, trackId] of retagged) {
      const tracks = this.#retagged.get(contentId)
      const count = (tracks?.get(trackId) ?? 0) - 1
      if (count > 0) tracks!.set(trackId, count)
      else tracks?.delete(trackId)
      if (tracks?.size === 0) this.#retagged.delete(contentId)
    }
  }

  /** How many files of `trackId` hold content other than `trackId` itself. */
  #retaggedFilesOf(trackId: string): number | undefined {
    let count = 0
    for (const key of new Set(this.holders(trackId))) {
      for (const [, id] of this.#retaggedByFolder.get(key) ?? []) if (id === trackId) count++
    }
    return count
  }
}
