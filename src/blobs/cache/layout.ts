import path from 'node:path'

/**
 * Where the cache keeps what (all under the cache folder):
 *
 *   pins.json                       the pins, replaced atomically
 *   blobs/<id[0..2]>/<id>.manifest  the blob's manifest (CLMF encoding), written once in place (a torn
 *                                   one fails its content-ID check);
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

// Paths are put together by concatenation, not path.join: they are built several times per blob
// (a mirror of 10k small tracks allocated ~85 MB in path.join's normalization), and their parts need
// none (a content ID is checked base32; the root is resolved once, see cacheRoot).

/** The cache folder as every path below is built on: absolute and normalized (path.resolve). */
export function cacheRoot(dir: string): string {
  return path.resolve(dir)
}

export function shardOf(root: string, contentId: string): string {
  return `${root}${path.sep}${BLOBS_FOLDER}${path.sep}${contentId.slice(0, 2)}`
}

export function blobFile(root: string, contentId: string, kind: BlobFileKind): string {
  return `${shardOf(root, contentId)}${path.sep}${contentId}.${kind}`
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
