import { closeSync, createReadStream, promises as fs, openSync, readFileSync, readSync } from 'node:fs'
import path from 'node:path'
import { type IAudioMetadata, type IPicture, parseBuffer, parseFile, selectCover } from 'music-metadata'
import { type Manifest, ManifestBuilder, manifestOf } from '../../blobs/index.ts'
import { hasMediaExtension, SNIFF_BYTES, sniff } from './sniff.ts'
import { type TagFields, tagFields } from './tags.ts'

/**
 * Reads one file once: hashes it block by block (its content ID) and parses its tags from the same
 * bytes. Pure with respect to the catalog, so it can run in a worker thread.
 */

/** Files up to this size are read into memory whole; bigger ones (videos) are streamed. */
export const WHOLE_FILE_LIMIT = 64 * 1024 * 1024

export interface CoverImage {
  bytes: Uint8Array
  mime: string
}

export type ReadOutcome =
  | {
      kind: 'media'
      contentId: string
      manifest: Manifest
      size: number
      tags: TagFields
      cover: CoverImage | null
    }
  | { kind: 'skipped'; reason: string }

export interface ReadOptions {
  signal?: AbortSignal
  /**
   * Read with blocking calls: much cheaper per file (one syscall sequence instead of four thread-pool
   * round trips). Right in a worker thread; wrong on a thread that serves requests.
   */
  syncIO?: boolean
  /**
   * With syncIO: a buffer to read into, reused from file to file (saves an allocation and its
   * garbage per file). The caller must not start another read before this one has finished.
   */
  scratch?: ScratchBuffer
}

/** A growable buffer that one reader reuses for every file. */
export class ScratchBuffer {
  #buffer = Buffer.allocUnsafe(1024 * 1024)

  take(size: number): Buffer {
    if (this.#buffer.length < size) this.#buffer = Buffer.allocUnsafe(Math.max(size, this.#buffer.length * 2))
    return this.#buffer
  }
}

/** Reads exactly `size` bytes into `scratch`; null when the file is not that size any more. */
function readIntoScratch(filePath: string, size: number, scratch: ScratchBuffer): Buffer | null {
  const buffer = scratch.take(size + 1)
  const fd = openSync(filePath, 'r')
  try {
    let offset = 0
    while (offset <= size) {
      const n = readSync(fd, buffer, offset, size + 1 - offset, offset)
      if (n === 0) break
      offset += n
    }
    return offset === size ? buffer.subarray(0, size) : null
  } finally {
    closeSync(fd)
  }
}

export async function readMediaFile(
  filePath: string,
  expectedSize: number,
  options: ReadOptions = {},
): Promise<ReadOutcome> {
  const { signal } = options
  signal?.throwIfAborted()
  if (expectedSize === 0) return skipped('empty file')
  if (!hasMediaExtension(path.extname(filePath))) {
    const head = await readHead(filePath)
    const sniffed = sniff(head)
    if (sniffed.kind !== 'media') return skipped(`not a media file (${sniffed.format})`)
  }
  return expectedSize <= WHOLE_FILE_LIMIT
    ? readWhole(filePath, expectedSize, options)
    : readStreaming(filePath, expectedSize, signal)
}

async function readWhole(filePath: string, expectedSize: number, options: ReadOptions): Promise<ReadOutcome> {
  const bytes =
    options.syncIO && options.scratch !== undefined
      ? readIntoScratch(filePath, expectedSize, options.scratch)
      : options.syncIO
        ? readFileSync(filePath)
        : await fs.readFile(filePath, { signal: options.signal })
  if (bytes === null || bytes.length !== expectedSize) {
    return skipped('file changed while it was being read; it will be read again')
  }
  const sniffed = sniff(bytes.subarray(0, SNIFF_BYTES))
  if (sniffed.kind !== 'media') return skipped(`not a media file: it holds ${sniffed.format}`)
  let meta: IAudioMetadata
  try {
    meta = await parseBuffer(bytes, { size: bytes.length, path: filePath }, { duration: false })
  } catch (error) {
    return skipped(`unreadable ${sniffed.format} data: ${messageOf(error)}`)
  }
  const problem = unplayable(meta, bytes.length)
  if (problem !== null) return skipped(problem)
  const { manifest, contentId } = manifestOf(bytes)
  return {
    kind: 'media',
    contentId,
    manifest,
    size: bytes.length,
    tags: tagFields(meta),
    cover: coverOf(meta),
  }
}

async function readStreaming(
  filePath: string,
  expectedSize: number,
  signal?: AbortSignal,
): Promise<ReadOutcome> {
  // Too big to hold in memory: hash while streaming, and let the parser read only the parts it needs
  // (headers, the MP4 'moov' box) instead of the whole file a second time.
  const builder = new ManifestBuilder()
  let head: Uint8Array | null = null
  for await (const chunk of createReadStream(filePath, { highWaterMark: 1024 * 1024, signal })) {
    head ??= (chunk as Buffer).subarray(0, SNIFF_BYTES)
    builder.update(chunk as Buffer)
  }
  const { manifest, contentId } = builder.finish()
  if (manifest.size !== expectedSize)
    return skipped('file changed while it was being read; it will be read again')
  const sniffed = sniff(head ?? new Uint8Array())
  if (sniffed.kind !== 'media') return skipped(`not a media file: it holds ${sniffed.format}`)
  let meta: IAudioMetadata
  try {
    meta = await parseFile(filePath, { duration: false })
  } catch (error) {
    return skipped(`unreadable ${sniffed.format} data: ${messageOf(error)}`)
  }
  const problem = unplayable(meta, manifest.size)
  if (problem !== null) return skipped(problem)
  return {
    kind: 'media',
    contentId,
    manifest,
    size: manifest.size,
    tags: tagFields(meta),
    cover: coverOf(meta),
  }
}

/** Files the parser accepts but that hold no audio or video worth listing. */
function unplayable(meta: IAudioMetadata, size: number): string | null {
  const { format } = meta
  if (!format.container && !format.codec) return 'no audio or video stream found'
  if (format.duration !== undefined && format.duration <= 0) return 'no audio or video frames (0 s long)'
  // A cut-off download keeps its headers, which still promise the whole duration. A file much
  // smaller than its duration times its bitrate is truncated.
  if (format.duration !== undefined && format.bitrate !== undefined && !format.hasVideo) {
    const promised = (format.duration * format.bitrate) / 8
    if (promised > 16 * 1024 && size < promised / 2) {
      return `truncated: its headers promise ${format.duration.toFixed(1)} s of audio (about ${Math.round(promised / 1024)} KB), but the file holds ${Math.round(size / 1024)} KB`
    }
  }
  return null
}

function coverOf(meta: IAudioMetadata): CoverImage | null {
  const picture: IPicture | null = selectCover(meta.common.picture)
  if (picture === null || picture.data.length === 0) return null
  const sniffed = sniff(picture.data.subarray(0, 16))
  const mime =
    sniffed.kind === 'image' ? `image/${sniffed.format}` : picture.format || 'application/octet-stream'
  return { bytes: picture.data, mime }
}

async function readHead(filePath: string): Promise<Uint8Array> {
  const handle = await fs.open(filePath, 'r')
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES)
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0)
    return buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

function skipped(reason: string): ReadOutcome {
  return { kind: 'skipped', reason }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
