/** Logs on stderr with levels: `2026-11-25T18:00:00.000Z info  message`. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export interface Logger {
  error(message: string): void
  warn(message: string): void
  info(message: string): void
  debug(message: string): void
}

export function isLogLevel(value: string): value is LogLevel {
  return value in ORDER
}

export function createLogger(level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const write = (at: LogLevel, message: string) => {
    if (ORDER[at] <= ORDER[level]) out.write(`${new Date().toISOString()} ${at.padEnd(5)} ${message}\n`)
  }
  return {
    error: (m) => write('error', m),
    warn: (m) => write('warn', m),
    info: (m) => write('info', m),
    debug: (m) => write('debug', m),
  }
}
