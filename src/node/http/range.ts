/** A parsed HTTP Range header for one byte range (RFC 9110 14.1.2), inclusive bounds. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * Parses `Range: bytes=...` for a resource of `size` bytes. Returns the range, `null` when there is
 * no usable Range header (serve the whole resource), or `'unsatisfiable'` (416). Several ranges in
 * one header are answered with the whole resource: players never ask for them, and a multipart
 * answer is not worth its complexity.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim())
  if (match === null) return null
  const [, first, last] = match
  if (first === '' && last === '') return null
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last)
    if (n === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  if (start >= size) return 'unsatisfiable'
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (end < start) return null
  return { start, end }
}
