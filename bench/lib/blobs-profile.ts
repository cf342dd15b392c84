/**
 * Summaries of V8 CPU profiles (.cpuprofile, written by `node --cpu-prof`): where a process's main thread
 * spent its time, by function (self time) and by Cloudless source function (inclusive time).
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function frameName(frame: CallFrame): string {
  const url = frame.url
  const where = url.includes('node_modules/')
    ? url.slice(url.lastIndexOf('node_modules/') + 'node_modules/'.length)
    : isOwnSource(url)
      ? `src/${url.slice(url.lastIndexOf('/src/') + 5)}`
      : url.slice(url.lastIndexOf('/') + 1)
  const name = frame.functionName || '(anonymous)'
  return where === '' ? name : `${name} ${where}:${frame.lineNumber + 1}`
}

/** A file of this repository's src/ (not a package's dist/src/). */
function isOwnSource(url: string): boolean {
  return url.includes('/src/') && !url.includes('node_modules/')
}

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  self: Array<{ name: string; ms: number }>
  /** Inclusive time of functions in src/ (each counted once per sample, however deep the recursion). */
  source: Array<{ name: string; ms: number }>
}

export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const perNode = new Map<number, number>()
  let totalUs = 0
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0
    totalUs += us
    perNode.set(id, (perNode.get(id) ?? 0) + us)
  })
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  for (const [id, us] of perNode) {
    const node = byId.get(id)
    if (node === undefined) continue
    const name = frameName(node.callFrame)
    self.set(name, (self.get(name) ?? 0) + us)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame
      if (frame === undefined || !isOwnSource(frame.url)) continue
      const n = frameName(frame)
      if (seen.has(n)) continue
      seen.add(n)
      inclusive.set(n, (inclusive.get(n) ?? 0) + us)
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000 }))
  return {
    totalMs: totalUs / 1000,
    idleMs: (self.get('(idle)') ?? 0) / 1000,
    self: sorted(new Map([...self].filter(([n]) => n !== '(idle)'))),
    source: sorted(inclusive),
  }
}

/** The .cpuprofile files in `dir` (one per process that ran with --cpu-prof-dir=dir). */
export async function profilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[])
  return names.filter((n) => n.endsWith('.cpuprofile')).map((n) => join(dir, n))
}

export async function summarizeProfileFile(file: string, top = 12): Promise<string[]> {
  const s = summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, top)
  const line = (x: { name: string; ms: number }) => `${(x.ms / 1000).toFixed(2).padStart(7)} s  ${x.name}`
  return [
    `main thread: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(s.idleMs / 1000).toFixed(1)} s idle`,
    'most self time:',
    ...s.self.map((x) => `  ${line(x)}`),
    'most inclusive time in src/:',
    ...s.source.map((x) => `  ${line(x)}`),
  ]
}
