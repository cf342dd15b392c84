import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'

/** The temp file next to `target` that an atomic replace writes first (removed when a cache opens). */
function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
}

/**
 * Writes a file so that a crash or a full disk never leaves a partial one behind: write a temp file
 * next to it, fsync, rename over the target, fsync the folder. Readers see the old file or the new.
 */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  options: { mode?: number; signal?: AbortSignal; durable?: boolean } = {},
): Promise<void> {
  // durable: false skips both fsyncs. The replace is still atomic for a crashed process (the OS
  // keeps its writes); only a power cut can lose it, for data whose loss can be detected.
  const durable = options.durable ?? true
  const dir = path.dirname(target)
  const temp = tempPathFor(target)
  const handle = await fs.open(temp, 'wx', options.mode ?? 0o644)
  try {
    try {
      await handle.writeFile(data, { signal: options.signal })
      if (durable) await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(temp, target)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw error
  }
  if (durable) await syncDir(dir)
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable. Some file systems refuse to fsync a folder; that is fine.
  try {
    const handle = await fs.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {}
}
