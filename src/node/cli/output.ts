import type { CommandContext } from './command.ts'

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export function println(ctx: CommandContext, line = ''): void {
  ctx.stdout.write(`${line}\n`)
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

/** Pads or cuts `text` to `width` terminal columns (good enough for a table). */
export function cell(text: string, width: number): string {
  const chars = [...text]
  if (chars.length > width) return `${chars.slice(0, width - 1).join('')}…`
  return text + ' '.repeat(width - chars.length)
}
