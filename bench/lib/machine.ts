/** Facts about the machine a benchmark ran on, printed with its figures. */
import { readFile } from 'node:fs/promises'
import os from 'node:os'

export interface MachineFacts {
  cpuModel: string
  cores: number
  /** Whether the CPU has SHA extensions (SHA-NI), which make SHA-256 several times faster. */
  shaExtensions: boolean
  memoryGB: number
  kernel: string
  node: string
}

export async function machineFacts(): Promise<MachineFacts> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '')
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown'
  const flags = cpuinfo.match(/^flags\s*:\s*(.+)$/m)?.[1]?.split(' ') ?? []
  return {
    cpuModel: model,
    cores: os.availableParallelism(),
    shaExtensions: flags.includes('sha_ni'),
    memoryGB: os.totalmem() / 1024 ** 3,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  }
}

export function describeMachine(m: MachineFacts): string {
  return (
    `${m.cores} cores, ${m.cpuModel}${m.shaExtensions ? ' (SHA-NI)' : ''}, ` +
    `${m.memoryGB.toFixed(0)} GB RAM, ${m.kernel}, Node ${m.node}`
  )
}
