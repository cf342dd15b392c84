/**
 * Runs every benchmark this file knows, one after the other, each in its own process:
 *
 *   npm run bench [-- <options passed to every benchmark>]
 *
 * Exits non-zero if any of them failed. Add a benchmark to BENCHMARKS to have it run here.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { onCleanup, runCleanups } from './lib/cleanup.ts'
import { stopChild } from './lib/process.ts'

const REPO = fileURLToPath(new URL('..', import.meta.url))

const BENCHMARKS: Array<{ name: string; script: string }> = [
  { name: 'scan', script: 'bench/scan.ts' },
  { name: 'sync', script: 'bench/sync.ts' },
  { name: 'blobs', script: 'bench/blobs.ts' },
  { name: 'web', script: 'bench/web.ts' },
]

function runBenchmark(script: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, script), ...args], { cwd: REPO, stdio: 'inherit' })
    const unregister = onCleanup(() => stopChild(child))
    child.once('error', (error) => {
      unregister()
      reject(error)
    })
    child.once('exit', (code, signal) => {
      unregister()
      resolve(code ?? (signal === null ? 1 : 128))
    })
  })
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const failed: string[] = []
  for (const { name, script } of BENCHMARKS) {
    process.stdout.write(`\n=== bench: ${name} (${script}) ===\n`)
    const code = await runBenchmark(script, args)
    if (code !== 0) failed.push(`${name} (exit ${code})`)
  }
  if (failed.length > 0) {
    process.stderr.write(`bench: failed: ${failed.join(', ')}\n`)
    process.exitCode = 1
  }
}

try {
  await main()
} finally {
  await runCleanups()
}
