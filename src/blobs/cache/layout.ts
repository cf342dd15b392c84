import path from 'node:path'

/**
 * Where the cache keeps what (all under the cache folder):
 *
 *   pins.json                       the pins, replaced atomically
 *   blobs/<id[0..2]>/<id>.manifest  the blob's manifest (CLMF encoding), written once, atomically;
 *                                   its mtime is the blob's last access (LRU order across restarts)
 *   blobs/<id[0..2]>/<id>.partial   a blob being fetched: a sparse file, block i at i * blockSize
 *   blobs/<id[0..2]>/<id>.bitmap    which blocks of the .partial are durable and verified
 *   blobs/<id[0..2]>/<id>.blob      a complete blob (the .partial renamed once every block is in)
 *   .<name>.<random>.tmp            temp files of atomic replaces; removed when the cache opens
 *
 * Two-character shards keep folders small with tens of thousands of blobs (as FsBlobStore does).
 */
export type BlobFileKind = 'manifest' | 'partial' | 'bitmap' | 'blob'

export const BLOBS_FOLDER = 'blobs'
export const PINS_FILE = 'pins.json'
const KINDS: ReadonlySet<string> = new Set(['manifest', 'partial', 'bitmap', 'blob'])

export function shardOf(root: string, contentId: string): string {
  return path.join(root, BLOBS_FOLDER, contentId.slice(0, 2))
}

export function blobFile(root: string, contentId: string, kind: BlobFileKind): string {
  return path.join(shardOf(root, contentId), `${contentId}.${kind}`)
}

/** Splits `<id>.<kind>`; undefined for any other name. */
export function parseBlobFileName(name: string): { contentId: string; kind: BlobFileKind } | undefined {
  const dot = name.lastIndexOf('.')
  if (dot <= 0) return undefined
  const kind = name.slice(dot + 1)
  if (!KINDS.has(kind)) return undefined
  return { contentId: name.slice(0, dot), kind: kind as BlobFileKind }
}

/** Temp files left by an atomic replace that did not finish (see atomic-file.ts). */
export function isTempFileName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp')
}
