import path from 'node:path'
import { BLOCK_SIZE, encodeManifest, type Manifest } from '../content-id.ts'

/**
 * Where the cache keeps what (all under the cache folder):
 *
 *   pins.json                       the pins, replaced atomically
 *   blobs/<id[0..2]>/<id>.manifest  the blob's manifest (CLMF encoding), written once in place (a torn
 *                                   one fails its content-ID check);
 *                                   its mtime is the blob's last access (LRU order across restarts);
 *                                   none for a blob of one standard block (derivesManifest)
 *   blobs/<id[0..2]>/<id>.partial   a blob being fetched: a sparse file, block i at i * blockSize
 *   blobs/<id[0..2]>/<id>.bitmap    which blocks of the .partial are durable and verified
 *   blobs/<id[0..2]>/<id>.blob      a complete blob (the .partial renamed once every block is in);
 *                                   without a .manifest, its mtime is the last access
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

/**
 * Whether a blob's manifest is derived from its data instead of kept in a .manifest file: a blob of
 * one block at the standard block size, whose manifest is its size, that block size and the hash of
 * its bytes, so that the content ID checks the data itself. A small file then costs the file system
 * one new file instead of two: with ext4, allocating an inode took 0.2-1.2 ms of system time here
 * (more after many deletions: ext4 skips recently freed inodes, seen with perf), the largest cost of
 * mirroring a library of small files to disk. The manifest is kept in memory until the block is in;
 * a blob that is not complete when the process stops has no data to derive it from and is dropped
 * (fetched again).
 */
export function derivesManifest(manifest: Pick<Manifest, 'size' | 'blockSize'>): boolean {
  return manifest.blockSize === BLOCK_SIZE && manifest.size > 0 && manifest.size <= BLOCK_SIZE
}

/** What a derived manifest counts in the cache's size (as the file it replaces would). */
export const DERIVED_MANIFEST_BYTES = encodeManifest({
  size: 1,
  blockSize: BLOCK_SIZE,
  blockHashes: new Uint8Array(32),
}).length
