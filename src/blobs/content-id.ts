import { base32Encode } from './base32.ts'
import { sha256 } from './sha256.ts'

/**
 * Content addressing with block manifests (shared/ARCHITECTURE.md, decision 2).
 *
 * A file is cut into fixed-size blocks; each block is hashed with SHA-256. The manifest lists the
 * file size, the block size and every block hash. The content ID is SHA-256 over the manifest,
 * so a receiver that holds the manifest (verified against the ID) can verify any byte range,
 * block by block, from any peer.
 *
 * Manifest encoding (version 1), all integers big-endian:
 *   "CLMF"  magic (4 bytes)
 *   u8      version = 1
 *   u32     block size in bytes
 *   u64     file size in bytes
 *   N x 32  SHA-256 of each block, in order (N = ceil(size / blockSize); 0 for an empty file)
 *
 * The content ID is the base32 (RFC 4648, lower case, unpadded) SHA-256 of those bytes: 52 chars.
 */

export const BLOCK_SIZE = 256 * 1024
const MAGIC = new Uint8Array([0x43, 0x4c, 0x4d, 0x46]) // "CLMF"
const HEADER_LENGTH = 4 + 1 + 4 + 8
const HASH_LENGTH = 32
const CONTENT_ID_PATTERN = /^[a-z2-7]{52}$/

export class MalformedManifestError extends Error {
  override name = 'MalformedManifestError'
}

export class ManifestMismatchError extends Error {
  override name = 'ManifestMismatchError'
}

export interface Manifest {
  readonly size: number
  readonly blockSize: number
  /** Concatenated SHA-256 block hashes, 32 bytes each. */
  readonly blockHashes: Uint8Array
}

export function isContentId(value: string): boolean {
  return CONTENT_ID_PATTERN.test(value)
}

export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize)
}

export function blockHash(manifest: Manifest, index: number): Uint8Array {
  return manifest.blockHashes.subarray(index * HASH_LENGTH, (index + 1) * HASH_LENGTH)
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + manifest.blockHashes.length)
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  view.setUint8(4, 1)
  view.setUint32(5, manifest.blockSize)
  view.setBigUint64(9, BigInt(manifest.size))
  out.set(manifest.blockHashes, HEADER_LENGTH)
  return out
}

export function decodeManifest(bytes: Uint8Array): Manifest {
  if (bytes.length < HEADER_LENGTH) throw new MalformedManifestError('manifest is shorter than its header')
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new MalformedManifestError('manifest does not start with CLMF')
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint8(4)
  if (version !== 1) throw new MalformedManifestError(`unsupported manifest version ${version}`)
  const blockSize = view.getUint32(5)
  const size = Number(view.getBigUint64(9))
  if (blockSize === 0) throw new MalformedManifestError('block size is 0')
  if (!Number.isSafeInteger(size)) throw new MalformedManifestError('file size is out of range')
  const expected = blockCount(size, blockSize) * HASH_LENGTH
  if (bytes.length - HEADER_LENGTH !== expected) {
    throw new MalformedManifestError(
      `manifest holds ${bytes.length - HEADER_LENGTH} hash bytes, expected ${expected}`,
    )
  }
  return { size, blockSize, blockHashes: bytes.slice(HEADER_LENGTH) }
}

export function contentIdOfManifest(manifest: Manifest): string {
  return base32Encode(sha256(encodeManifest(manifest)))
}

/** Decodes a manifest received from elsewhere and checks that it belongs to `contentId`. */
export function verifyManifest(contentId: string, bytes: Uint8Array): Manifest {
  const manifest = decodeManifest(bytes)
  const actual = base32Encode(sha256(bytes))
  if (actual !== contentId) throw new ManifestMismatchError(`manifest hashes to ${actual}, not ${contentId}`)
  return manifest
}

/**
 * The SHA-256 of each block object verifyBlock accepted, so that the cache writing a block the
 * receiver just verified does not hash it a second time (verifyBlockOnce). Keyed by the object:
 * bytes read anew (from disk, from the network) are never in it.
 */
const verifiedDigests = new WeakMap<Uint8Array, Uint8Array>()

/** True when `block` is block `index` of the manifest's content. Always hashes the block. */
export function verifyBlock(manifest: Manifest, index: number, block: Uint8Array): boolean {
  if (!hasBlockLength(manifest, index, block)) return false
  const digest = sha256(block)
  if (!sameBytes(digest, blockHash(manifest, index))) return false
  verifiedDigests.set(block, digest)
  return true
}

/**
 * Like verifyBlock, but a block object verifyBlock already accepted in this process is checked
 * against the digest it had then instead of being hashed again (the blob session verifies the
 * blocks it receives, unless their consumer does, and hands the same object to the cache's writer;
 * a mirror's blocks are verified by the cache's write thread instead). Its bytes must not have been
 * changed since; use verifyBlock for bytes read from disk.
 */
export function verifyBlockOnce(manifest: Manifest, index: number, block: Uint8Array): boolean {
  const digest = verifiedDigests.get(block)
  if (digest === undefined) return verifyBlock(manifest, index, block)
  return hasBlockLength(manifest, index, block) && sameBytes(digest, blockHash(manifest, index))
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function hasBlockLength(manifest: Manifest, index: number, block: Uint8Array): boolean {
  const expectedLength = Math.min(manifest.blockSize, manifest.size - index * manifest.blockSize)
  return index >= 0 && expectedLength > 0 && block.length === expectedLength
}

/**
 * Hashes a byte stream block by block. Feed it chunks of any size in order, then call `finish()`.
 * Used by the scanner, which reads each file once and hashes and parses tags from the same bytes.
 */
export class ManifestBuilder {
  readonly blockSize: number
  #hashes: Uint8Array[] = []
  #pending = Buffer.alloc(0)
  #size = 0

  constructor(blockSize = BLOCK_SIZE) {
    this.blockSize = blockSize
  }

  update(chunk: Uint8Array): void {
    this.#size += chunk.length
    let offset = 0
    if (this.#pending.length > 0) {
      const take = Math.min(this.blockSize - this.#pending.length, chunk.length)
      this.#pending = Buffer.concat([this.#pending, chunk.subarray(0, take)])
      offset = take
      if (this.#pending.length === this.blockSize) {
        this.#hashes.push(sha256(this.#pending))
        this.#pending = Buffer.alloc(0)
      }
    }
    while (chunk.length - offset >= this.blockSize) {
      this.#hashes.push(sha256(chunk.subarray(offset, offset + this.blockSize)))
      offset += this.blockSize
    }
    if (offset < chunk.length) this.#pending = Buffer.from(chunk.subarray(offset))
  }

  finish(): { manifest: Manifest; contentId: string } {
    if (this.#pending.length > 0) {
      this.#hashes.push(sha256(this.#pending))
      this.#pending = Buffer.alloc(0)
    }
    const blockHashes = new Uint8Array(this.#hashes.length * HASH_LENGTH)
    this.#hashes.forEach((hash, i) => {
      blockHashes.set(hash, i * HASH_LENGTH)
    })
    const manifest = { size: this.#size, blockSize: this.blockSize, blockHashes }
    return { manifest, contentId: contentIdOfManifest(manifest) }
  }
}

/** The manifest and content ID of bytes held in memory. */
export function manifestOf(
  bytes: Uint8Array,
  blockSize = BLOCK_SIZE,
): { manifest: Manifest; contentId: string } {
  const builder = new ManifestBuilder(blockSize)
  builder.update(bytes)
  return builder.finish()
}
