/**
 * CPU time from Linux /proc: of one process (mpd), of this process with its reaped children, and of the
 * whole machine, so that a run can say how much CPU other processes took while it measured.
 */
import { readFile } from 'node:fs/promises'
import { commandOutput } from './process.ts'

let ticksPerSecond: number | null = null

/** USER_HZ, the unit of the /proc CPU counters (almost always 100). */
export async function clockTicks(): Promise<number> {
  ticksPerSecond ??= Number((await commandOutput('getconf', ['CLK_TCK']))?.trim()) || 100
  return ticksPerSecond
}

/** utime, stime, cutime, cstime of a process, in ticks; null if it is gone. */
async function processTimes(pid: number | 'self'): Promise<number[] | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (stat === null) return null
  // Fields after the command name, which may itself hold spaces and parentheses: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return [11, 12, 13, 14].map((i) => Number(fields[i]))
}

/** User + system CPU time of a process so far, in ms (10 ms resolution). */
export async function processCpuMs(pid: number): Promise<number | null> {
  const times = await processTimes(pid)
  return times === null ? null : ((times[0]! + times[1]!) * 1000) / (await clockTicks())
}

export interface CpuSnapshot {
  /** CPU time the whole machine spent busy, in ms. */
  machineBusyMs: number
  /** CPU time of this process and of every child it has reaped (and theirs), in ms. */
  ownMs: number
}

export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const ticks = await clockTicks()
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? ''
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  const busy = [user, nice, system, irq, softirq, steal].reduce((sum: number, n) => sum + (n ?? 0), 0)
  const own = (await processTimes('self'))?.reduce((sum, n) => sum + n, 0) ?? 0
  return { machineBusyMs: (busy * 1000) / ticks, ownMs: (own * 1000) / ticks }
}

/** CPU time that other processes took between two snapshots, in ms (roughly: ticks are 10 ms). */
export function othersCpuMs(before: CpuSnapshot, after: CpuSnapshot): number {
  const machine = after.machineBusyMs - before.machineBusyMs
  const own = after.ownMs - before.ownMs
  return Math.max(0, machine - own)
}
