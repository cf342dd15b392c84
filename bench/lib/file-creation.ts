/**
 * How fast the file system creates files now, and a wait until it is fast again.
 *
 * On ext4 without a journal (the machine of the README's figures), creating a file costs 280-660 µs
 * instead of ~26 µs for minutes after tens of thousands of files were deleted: the inode allocator
 * checks every free inode it passes for a deletion in the last 1 to 6 minutes. A test run or an earlier
 * benchmark that cleaned up just before would slow whichever tool mirrors first (10k small files:
 * 24 s instead of 15-17 s). So each transfer waits, up to MAX_WAIT_MS, until a probe of PROBE_FILES
 * creates is fast, and the report says what it measured.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from './cleanup.ts'
import { sleep } from './timing.ts'

/**
 * Files in fresh folders, as a transfer creates them (the cache's shard folders, the library's album
 * folders): ext4 places each new folder in another block group, and the slowdown is per group, so a
 * probe within one folder measured 31 µs while the mirror right after it spent ~490 µs per create.
 */
const PROBE_FOLDERS = 64
const FILES_PER_FOLDER = 8
const PROBE_FILES = PROBE_FOLDERS * FILES_PER_FOLDER
/** Above this per file, creation is slowed (healthy ext4 here: ~26 µs, slowed: 280-660 µs). */
export const SLOW_CREATE_US = 60
const MAX_WAIT_MS = 7 * 60_000
const RETRY_MS = 15_000

let probeDir: Promise<string> | undefined
let probes = 0

/** Mean µs per created file (open, a 1 KB write, close; a folder per 8). The files stay until the benchmark exits. */
export async function measureFileCreation(): Promise<number> {
  // One temp folder for all probes, removed at exit: removing probe files now would slow the next probe.
  probeDir ??= tempDir('create-probe').then((dir) => dir.path)
  const dir = join(await probeDir, String(probes++))
  await mkdir(dir)
  const bytes = Buffer.alloc(1024)
  const start = process.hrtime.bigint()
  for (let d = 0; d < PROBE_FOLDERS; d++) {
    const folder = join(dir, `d${d}`)
    mkdirSync(folder)
    for (let i = 0; i < FILES_PER_FOLDER; i++) {
      const fd = openSync(join(folder, `f${i}`), 'wx')
      writeSync(fd, bytes)
      closeSync(fd)
    }
  }
  return Number(process.hrtime.bigint() - start) / 1000 / PROBE_FILES
}

/** Waits until creating a file takes less than SLOW_CREATE_US, or MAX_WAIT_MS; returns the last µs per file. */
export async function waitForFastFileCreation(
  log: (line: string) => void,
): Promise<{ usPerFile: number; waitedMs: number }> {
  const start = Date.now()
  let us = await measureFileCreation()
  while (us > SLOW_CREATE_US && Date.now() - start < MAX_WAIT_MS) {
    log(
      `  the file system creates files slowly now (${us.toFixed(0)} µs each; files were deleted recently), waiting…`,
    )
    await sleep(RETRY_MS)
    us = await measureFileCreation()
  }
  return { usPerFile: us, waitedMs: Date.now() - start }
}
