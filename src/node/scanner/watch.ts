import { type FSWatcher, watch } from 'node:fs'
import { type ScanReport, type ScanTarget, scan } from './scanner.ts'

export interface WatchOptions {
  signal: AbortSignal
  /** Wait this long after the last file event before rescanning (editors and copies come in bursts). */
  debounceMs?: number
  /** Full rescan this often anyway: file events do not fire on many network mounts. */
  rescanEveryMs?: number
  onScan?: (report: ScanReport) => void
  onError?: (error: Error) => void
}

/**
 * Keeps the catalog in step with the library folders until `signal` aborts. A file event triggers
 * an incremental scan (which only stats unchanged files), so correctness never depends on what the
 * event said; a timer rescans anyway for file systems that send no events.
 */
export async function watchLibrary(
  target: ScanTarget,
  roots: string[],
  options: WatchOptions,
): Promise<void> {
  const { signal } = options
  const debounceMs = options.debounceMs ?? 500
  const rescanEveryMs = options.rescanEveryMs ?? 10 * 60_000
  let running: Promise<void> | null = null
  let again = false
  let debounce: NodeJS.Timeout | undefined

  const runScan = () => {
    if (signal.aborted) return
    if (running !== null) {
      again = true
      return
    }
    running = scan(target, roots, { signal })
      .then((report) => options.onScan?.(report))
      .catch((error: Error) => {
        if (!signal.aborted) options.onError?.(error)
      })
      .finally(() => {
        running = null
        if (again) {
          again = false
          runScan()
        }
      })
  }
  const onEvent = () => {
    clearTimeout(debounce)
    debounce = setTimeout(runScan, debounceMs)
  }

  const watchers: FSWatcher[] = []
  for (const root of roots) {
    try {
      const watcher = watch(root, { recursive: true, signal }, onEvent)
      watcher.on('error', (error) => options.onError?.(error))
      watchers.push(watcher)
    } catch (error) {
      options.onError?.(
        new Error(`cannot watch ${root} (${(error as Error).message}); relying on periodic rescans`),
      )
    }
  }
  const timer = setInterval(runScan, rescanEveryMs)
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
  clearInterval(timer)
  clearTimeout(debounce)
  for (const watcher of watchers) watcher.close()
  await (running ?? Promise.resolve())
}
