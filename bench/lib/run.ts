import { writeFile } from 'node:fs/promises'
import { interrupted, runCleanups } from './cleanup.ts'

/**
 * Runs a benchmark's main: on failure prints the error (unless the user interrupted it) and
 * `onFailure` adds what helps (node logs), exit code 1; always runs the registered cleanups.
 */
export async function runBench(name: string, main: () => Promise<void>, onFailure?: () => Promise<void>) {
  try {
    await main()
  } catch (error) {
    if (interrupted() === null) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
      process.stderr.write(`bench:${name}: ${text}\n`)
      await onFailure?.().catch(() => {})
    }
    process.exitCode = 1
  } finally {
    await runCleanups()
  }
}

/** Writes the results file, prints the report (and the JSON with --json); failed checks mean exit 1. */
export async function publishResults<R extends { checks: unknown[] }>(
  file: string,
  results: R,
  format: (results: R, file: string) => string,
  json: boolean,
): Promise<void> {
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
  process.stdout.write(`${format(results, file)}\n`)
  if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  if (results.checks.length > 0) process.exitCode = 1
}
