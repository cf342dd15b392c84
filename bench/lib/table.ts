/** Plain-text tables and number formats for benchmark output. */

export type Align = 'left' | 'right'

export interface Column {
  title: string
  align?: Align
}

/** Formats rows under a header, each column as wide as its widest cell. */
export function formatTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (columns[i]?.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  const header = line(columns.map((c) => c.title))
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [header, rule, ...rows.map(line)].join('\n')
}

/** A number with `digits` decimals, or an em dash when unknown. */
export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function fmtSeconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  return ms < 1000 ? (ms / 1000).toFixed(3) : (ms / 1000).toFixed(2)
}

export function fmtRatio(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}×`
}

/** Decimal megabytes (10^6 bytes), as in "MB/s". */
export function megabytes(bytes: number): number {
  return bytes / 1e6
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? count / (ms / 1000) : Number.NaN
}
