/** The bytes given for a block do not hash to the manifest's entry for it. Nothing was written. */
export class CorruptBlockError extends Error {
  override name = 'CorruptBlockError'
}

/** The cache has no manifest for this blob: call `putManifest` first. */
export class ManifestMissingError extends Error {
  override name = 'ManifestMissingError'
}

/**
 * The disk (or the user's quota) is full. The operation left nothing half-written marked as present;
 * the cache stays usable. `cause` holds the file system error.
 */
export class DiskFullError extends Error {
  override name = 'DiskFullError'
}

/** The blob was removed or evicted while a block of it was being written. */
export class BlobRemovedError extends Error {
  override name = 'BlobRemovedError'
}

/** A block needed for a range is not in the cache (or was corrupt on disk and has been dropped). */
export class BlockMissingError extends Error {
  override name = 'BlockMissingError'
}

export class InvalidContentIdError extends Error {
  override name = 'InvalidContentIdError'
}

export class CacheClosedError extends Error {
  override name = 'CacheClosedError'
}

export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

/** The error to throw for `error`: a full disk becomes a DiskFullError that says what was being done. */
function diskFullOr(error: unknown, what: string): unknown {
  return isDiskFull(error) ? new DiskFullError(`disk full while ${what}`, { cause: error }) : error
}

/** Runs `fn`; a full disk becomes a DiskFullError that says what was being done. */
export async function translateDiskFull<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw diskFullOr(error, what)
  }
}

/** translateDiskFull for synchronous work (no closure or promise per call). */
export function translateDiskFullNow<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    throw diskFullOr(error, what)
  }
}
