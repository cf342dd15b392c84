/**
 * Cleanup that runs however a benchmark ends: normal return, thrown error, Ctrl+C or SIGTERM.
 * Child processes, servers and temp dirs register here; they are undone last-in first-out.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type CleanupFn = () => void | Promise<void>

const pending = new Set<CleanupFn>()
let signalsHooked = false
let running: Promise<void> | null = null
let interruptedBy: NodeJS.Signals | null = null

/** The signal that stopped the benchmark, if one did (errors that follow from it are not news). */
export function interrupted(): NodeJS.Signals | null {
  return interruptedBy
}

/** Registers `fn`; the returned function unregisters it (after doing the cleanup yourself). */
export function onCleanup(fn: CleanupFn): () => void {
  hookSignals()
  pending.add(fn)
  return () => {
    pending.delete(fn)
  }
}

/** Runs every registered cleanup, newest first. Failures are reported, never thrown. */
export function runCleanups(): Promise<void> {
  running ??= (async () => {
    for (const fn of [...pending].reverse()) {
      pending.delete(fn)
      try {
        await fn()
      } catch (error) {
        process.stderr.write(`bench: cleanup failed: ${(error as Error).message}\n`)
      }
    }
    running = null
  })()
  return running
}

/** A temp dir that is removed at cleanup (or earlier, with the returned `remove`). */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `cloudless-bench-${prefix}-`))
  // CLOUDLESS_BENCH_KEEP_TEMP=1 leaves them (to look into, or to run benchmarks back to back: see
  // KEEP_UNTIL_EXIT in bench/blobs.ts for why deleting many files slows the next run down).
  const removeDir = () =>
    process.env.CLOUDLESS_BENCH_KEEP_TEMP === '1'
      ? Promise.resolve()
      : rm(path, { recursive: true, force: true })
  const unregister = onCleanup(removeDir)
  return {
    path,
    remove: async () => {
      unregister()
      await removeDir()
    },
  }
}

function hookSignals(): void {
  if (signalsHooked) return
  signalsHooked = true
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interruptedBy = signal
      process.stderr.write(`\nbench: ${signal}, cleaning up…\n`)
      void runCleanups().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
    })
  }
}
