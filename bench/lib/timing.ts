/** Clocks and the small statistics the benchmarks need. */

/** Milliseconds from a monotonic clock. */
export function nowMs(): number {
  return performance.now()
}

export function msSince(startMs: number): number {
  return performance.now() - startMs
}

/** Runs `fn` and returns its result with how long it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = nowMs()
  const result = await fn()
  return { result, ms: msSince(start) }
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface Spread {
  median: number
  min: number
  max: number
  runs: number[]
}

export function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values }
}

/** Runs `fn` `times` times, one after the other. */
export async function repeat<T>(times: number, fn: (run: number) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < times; i++) out.push(await fn(i))
  return out
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A transfer's end is polled every `far` ms at most, and every `near` ms once it is close. */
export const END_POLL_MS = { far: 500, near: 50 }
/** Close polls once this few files, or this share of them, are left. */
const CLOSE_WHEN_LEFT = { files: 8, share: 0.05 }

/**
 * How long to wait before asking a transfer again whether it has ended, after `elapsedMs` with
 * `done` of `total` files done: half the time the rest should take at the rate so far, between
 * END_POLL_MS.near and .far; close polls once at most 8 files or 5% are left; and before the first
 * file is done, 4 close polls' worth.
 *
 * Why not sparse polls until the last 5%: a 1 GiB mirror (200 files) moves ~25 files between two
 * polls 500 ms apart, so the last sparse poll often saw less than 95% done and the end was seen up
 * to 500 ms late (README: how the end of a transfer is seen). At a steady rate, and with a `done`
 * that follows the transfer as it happens, the polls now close in on the end and see it within
 * END_POLL_MS.near.
 */
export function endPollDelay(elapsedMs: number, done: number, total: number): number {
  const { far, near } = END_POLL_MS
  // A count missing from a tool's answer: sparse polls, not a busy loop (sleep(NaN) waits ~1 ms).
  if (!Number.isFinite(elapsedMs) || !Number.isFinite(done) || !Number.isFinite(total)) return far
  if (total - done <= CLOSE_WHEN_LEFT.files || total - done <= total * CLOSE_WHEN_LEFT.share) return near
  if (done <= 0) return 4 * near
  const restMs = (elapsedMs * (total - done)) / done
  return Math.round(Math.min(far, Math.max(near, restMs / 2)))
}
