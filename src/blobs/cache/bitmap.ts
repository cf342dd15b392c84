import { crc32 } from 'node:zlib'

/**
 * Which blocks of a partial blob are present: one bit per block, with a running count.
 *
 * File encoding (all integers big-endian):
 *   "CLBM"  magic (4 bytes)
 *   u8      version = 1
 *   u32     block count
 *   u32     CRC-32 of the bit bytes (a torn or foreign file is detected, then rebuilt)
 *   bits    ceil(count / 8) bytes, block i at bit (i % 8) of byte floor(i / 8)
 */
const MAGIC = [0x43, 0x4c, 0x42, 0x4d] // "CLBM"
const HEADER_LENGTH = 4 + 1 + 4 + 4

export class MalformedBitmapError extends Error {
  override name = 'MalformedBitmapError'
}

export class Bitmap {
  readonly size: number
  #bits: Uint8Array
  #count = 0

  constructor(size: number, bits?: Uint8Array) {
    this.size = size
    this.#bits = bits ?? new Uint8Array(Math.ceil(size / 8))
    if (bits) for (let i = 0; i < size; i++) if (this.has(i)) this.#count++
  }

  static full(size: number): Bitmap {
    const bitmap = new Bitmap(size)
    for (let i = 0; i < size; i++) bitmap.set(i)
    return bitmap
  }

  get count(): number {
    return this.#count
  }

  get isFull(): boolean {
    return this.#count === this.size
  }

  has(index: number): boolean {
    return (this.#bits[index >> 3]! & (1 << (index & 7))) !== 0
  }

  set(index: number): void {
    if (this.has(index)) return
    this.#bits[index >> 3]! |= 1 << (index & 7)
    this.#count++
  }

  clear(index: number): void {
    if (!this.has(index)) return
    this.#bits[index >> 3]! &= ~(1 << (index & 7))
    this.#count--
  }

  clone(): Bitmap {
    return new Bitmap(this.size, new Uint8Array(this.#bits))
  }

  encode(): Uint8Array {
    const out = new Uint8Array(HEADER_LENGTH + this.#bits.length)
    const view = new DataView(out.buffer)
    out.set(MAGIC, 0)
    view.setUint8(4, 1)
    view.setUint32(5, this.size)
    view.setUint32(9, crc32(this.#bits))
    out.set(this.#bits, HEADER_LENGTH)
    return out
  }

  static decode(bytes: Uint8Array, expectedSize: number): Bitmap {
    if (bytes.length < HEADER_LENGTH) throw new MalformedBitmapError('bitmap is shorter than its header')
    for (let i = 0; i < MAGIC.length; i++) {
      if (bytes[i] !== MAGIC[i]) throw new MalformedBitmapError('bitmap does not start with CLBM')
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (view.getUint8(4) !== 1)
      throw new MalformedBitmapError(`unsupported bitmap version ${view.getUint8(4)}`)
    const size = view.getUint32(5)
    if (size !== expectedSize)
      throw new MalformedBitmapError(`bitmap has ${size} blocks, expected ${expectedSize}`)
    // A copy: Buffer#slice would share memory with the file's buffer.
    const bits = new Uint8Array(bytes.subarray(HEADER_LENGTH))
    if (bits.length !== Math.ceil(size / 8)) throw new MalformedBitmapError('bitmap length does not match')
    if (crc32(bits) !== view.getUint32(9)) throw new MalformedBitmapError('bitmap checksum does not match')
    // Bits past the last block must be zero, or the count would be wrong.
    if (size % 8 !== 0 && bits[bits.length - 1]! >> (size % 8) !== 0) {
      throw new MalformedBitmapError('bitmap has bits past its last block')
    }
    return new Bitmap(size, bits)
  }
}
