import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  BLOCK_SIZE,
  decodeManifest,
  encodeManifest,
  isContentId,
  MalformedManifestError,
  ManifestBuilder,
  ManifestMismatchError,
  manifestOf,
  verifyBlock,
  verifyBlockOnce,
  verifyManifest,
} from '../../src/blobs/index.ts'

describe('content IDs over block manifests', () => {
  it('hashes each fixed-size block and the manifest', () => {
    const bytes = randomBytes(BLOCK_SIZE * 2 + 1000)
    const { manifest, contentId } = manifestOf(bytes)
    expect(isContentId(contentId)).toBe(true)
    expect(manifest.size).toBe(bytes.length)
    expect(manifest.blockHashes.length).toBe(3 * 32)
    const last = createHash('sha256')
      .update(bytes.subarray(BLOCK_SIZE * 2))
      .digest()
    expect(Buffer.from(manifest.blockHashes.subarray(64))).toEqual(last)
  })

  it('gives the same id however the bytes are fed in', () => {
    const bytes = randomBytes(BLOCK_SIZE * 3 + 17)
    const whole = manifestOf(bytes).contentId
    const builder = new ManifestBuilder()
    for (let offset = 0; offset < bytes.length; offset += 100_003)
      builder.update(bytes.subarray(offset, offset + 100_003))
    expect(builder.finish().contentId).toBe(whole)
  })

  it('differs when one byte differs, and is stable for equal bytes', () => {
    const a = randomBytes(5000)
    const b = Buffer.from(a)
    expect(manifestOf(b).contentId).toBe(manifestOf(a).contentId)
    b[4999]! ^= 1
    expect(manifestOf(b).contentId).not.toBe(manifestOf(a).contentId)
  })

  it('handles an empty file', () => {
    const { manifest, contentId } = manifestOf(new Uint8Array())
    expect(manifest.blockHashes.length).toBe(0)
    expect(isContentId(contentId)).toBe(true)
  })

  it('round-trips the manifest and verifies it against the id', () => {
    const { manifest, contentId } = manifestOf(randomBytes(BLOCK_SIZE + 5))
    const encoded = encodeManifest(manifest)
    expect(decodeManifest(encoded)).toEqual(manifest)
    expect(verifyManifest(contentId, encoded)).toEqual(manifest)
    const tampered = Uint8Array.from(encoded)
    tampered[tampered.length - 1]! ^= 1
    expect(() => verifyManifest(contentId, tampered)).toThrow(ManifestMismatchError)
  })

  it('rejects malformed manifests with a named error', () => {
    expect(() => decodeManifest(new Uint8Array(3))).toThrow(MalformedManifestError)
    const { manifest } = manifestOf(randomBytes(100))
    const encoded = encodeManifest(manifest)
    expect(() => decodeManifest(encoded.subarray(0, encoded.length - 1))).toThrow(MalformedManifestError)
    const wrongMagic = Uint8Array.from(encoded)
    wrongMagic[0] = 0
    expect(() => decodeManifest(wrongMagic)).toThrow(MalformedManifestError)
  })

  it('verifies single blocks', () => {
    const bytes = randomBytes(BLOCK_SIZE + 10)
    const { manifest } = manifestOf(bytes)
    expect(verifyBlock(manifest, 0, bytes.subarray(0, BLOCK_SIZE))).toBe(true)
    expect(verifyBlock(manifest, 1, bytes.subarray(BLOCK_SIZE))).toBe(true)
    expect(verifyBlock(manifest, 1, bytes.subarray(BLOCK_SIZE + 1))).toBe(false)
    const bad = Buffer.from(bytes.subarray(0, BLOCK_SIZE))
    bad[0]! ^= 0xff
    expect(verifyBlock(manifest, 0, bad)).toBe(false)
    expect(verifyBlock(manifest, 2, new Uint8Array(1))).toBe(false)
  })

  it('verifies a block once: an object verifyBlock accepted is checked by its digest, others are hashed', () => {
    const bytes = randomBytes(2 * BLOCK_SIZE)
    const { manifest } = manifestOf(bytes)
    const block = Uint8Array.from(bytes.subarray(0, BLOCK_SIZE))
    // Never verified: hashed, and a damaged copy is refused.
    const bad = Uint8Array.from(block)
    bad[0]! ^= 0xff
    expect(verifyBlockOnce(manifest, 0, bad)).toBe(false)
    expect(verifyBlockOnce(manifest, 0, block)).toBe(true)
    expect(verifyBlock(manifest, 0, block)).toBe(true)
    // The remembered digest is that of block 0: not block 1's, whatever the length.
    expect(verifyBlockOnce(manifest, 1, block)).toBe(false)
    expect(verifyBlockOnce(manifest, 0, block)).toBe(true)
    // A failed verifyBlock remembers nothing.
    expect(verifyBlock(manifest, 0, bad)).toBe(false)
    expect(verifyBlockOnce(manifest, 0, bad)).toBe(false)
  })
})
