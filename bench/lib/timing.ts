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
