import type { ScanProgress } from '../scanner/scanner.ts'
import { formatBytes } from './output.ts'

/**
 * A one-line progress bar on a terminal (stderr), redrawn at most 10 times a second: files done
 * of total, files/s, MB/s and ETA. Prints nothing when stderr is not a terminal.
 */
export class ScanProgressBar {
  readonly #out: NodeJS.WriteStream
  readonly #enabled: boolean
  #lastDraw = 0
  #drawn = false

  constructor(out: NodeJS.WriteStream | NodeJS.WritableStream) {
    this.#out = out as NodeJS.WriteStream
    this.#enabled = this.#out.isTTY === true
  }

  update(p: ScanProgress): void {
    if (!this.#enabled) return
    const now = performance.now()
    if (p.phase !== 'done' && now - this.#lastDraw < 100) return
    this.#lastDraw = now
    const seconds = p.elapsedMs / 1000
    let line: string
    if (p.phase === 'walking') line = 'Looking for files…'
    else if (p.phase === 'removing') line = 'Removing files that are gone…'
    else {
      const fraction =
        p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1
      const width = 24
      const filled = Math.round(fraction * width)
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
      const filesPerSec = seconds > 0 ? p.filesDone / seconds : 0
      const bytesPerSec = seconds > 0 ? p.bytesDone / seconds : 0
      const eta = bytesPerSec > 0 ? (p.bytesTotal - p.bytesDone) / bytesPerSec : Number.NaN
      line =
        `${bar} ${String(Math.round(fraction * 100)).padStart(3)}%  ${p.filesDone}/${p.filesTotal} files  ` +
        `${filesPerSec.toFixed(0)} files/s  ${formatBytes(bytesPerSec)}/s  ETA ${Number.isFinite(eta) ? `${Math.ceil(eta)} s` : '--'}`
    }
    const columns = this.#out.columns ?? 100
    this.#out.write(`\r\x1b[2K${line.slice(0, columns - 1)}`)
    this.#drawn = true
  }

  clear(): void {
    if (this.#enabled && this.#drawn) this.#out.write('\r\x1b[2K')
    this.#drawn = false
  }
}
