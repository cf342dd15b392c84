/**
 * How much other processes disturbed a benchmark: each measured phase records the CPU time the rest
 * of the machine used meanwhile (see proc-stat.ts), and the report names the phases where that was
 * more than noise.
 */
import { fmt, fmtSeconds } from './table.ts'

export interface MeasuredPhase {
  name: string
  ms: number
  /** CPU time other processes on the machine used meanwhile. */
  othersCpuMs: number
}

/** Phases during which other processes took more than this share of one core (and 50 ms) are flagged. */
const DISTURBED_SHARE = 0.05
const DISTURBED_MIN_MS = 50

export function formatContention(phases: MeasuredPhase[], cores: number): string[] {
  const total = phases.reduce((sum, p) => sum + p.othersCpuMs, 0)
  const disturbed = phases.filter(
    (p) => p.othersCpuMs > DISTURBED_MIN_MS && p.othersCpuMs > DISTURBED_SHARE * p.ms,
  )
  return [
    `Other processes used ${fmtSeconds(total)} CPU-s during the measured phases ` +
      `(${cores} cores; near 0 means undisturbed figures)${disturbed.length > 0 ? '; disturbed phases:' : '.'}`,
    ...disturbed.map(
      (p) =>
        `  ${p.name}: others ${fmtSeconds(p.othersCpuMs)} CPU-s in ${fmtSeconds(p.ms)} s ` +
        `(${fmt((100 * p.othersCpuMs) / p.ms)}% of one core)`,
    ),
  ]
}
