import type { PathFigures } from './away-measure.ts'
import { fmt, formatTable } from './table.ts'
import { median } from './timing.ts'

export interface AwayResults {
  date: string
  machine: string
  trackBytes: number
  paths: PathFigures[]
  checks: string[]
}

export function formatAwayReport(results: AwayResults, file: string): string {
  const lan = results.paths.find((p) => p.path === 'lan')
  const lanMbps = lan === undefined ? null : median(lan.runs.map((r) => r.mbPerSec))
  const rows = results.paths.map((p) => {
    const mbps = median(p.runs.map((r) => r.mbPerSec))
    return [
      p.path,
      fmt(median(p.runs.map((r) => r.firstByteMs)), 1),
      fmt(Math.max(...p.runs.map((r) => r.firstByteMs)), 1),
      fmt(mbps, 1),
      lanMbps === null ? '-' : `${fmt(mbps / lanMbps, 2)}x`,
      p.rttMs === null ? '-' : fmt(p.rttMs, 1),
      String(p.runs.length),
    ]
  })
  const table = formatTable(
    [
      { title: 'path', align: 'left' },
      { title: 'first byte ms (median)', align: 'right' },
      { title: 'max', align: 'right' },
      { title: 'MB/s (median)', align: 'right' },
      { title: 'vs LAN', align: 'right' },
      { title: 'ping ms', align: 'right' },
      { title: 'tracks', align: 'right' },
    ],
    rows,
  )
  return [
    `bench:away, ${results.date}, ${results.machine}`,
    `a home track (${fmt(results.trackBytes / 1e6, 1)} MB WAV of noise, not cached) through the hotel device's /stream, on the NAT test bed`,
    table,
    ...results.paths.map((p) => `  ${p.path}: ${p.address}`),
    results.checks.length === 0
      ? 'every track arrived whole (SHA-256)'
      : `FAILED: ${results.checks.join('; ')}`,
    `results in ${file}`,
  ].join('\n')
}
