/**
 * The floor transfers of bench:blobs: the same set moved by floor-child.ts, SHA-256 per 256 KiB block,
 * a write in place and an fdatasync per file on the receiver, and nothing else. "Node floor": one TCP
 * socket with ChaCha20-Poly1305 frames, no libp2p: what any Node implementation of a verified,
 * encrypted transfer costs at the least on this machine. "libp2p plain stream": the same over one
 * js-libp2p stream (TCP, Noise, yamux), no Cloudless code: the stack used plainly. Measured in the same
 * run as Cloudless and Syncthing.
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { cpuSnapshot, processCpuMs } from './proc-stat.ts'
import { spawnGroup, stopChild } from './process.ts'

const CHILD = fileURLToPath(new URL('./floor-child.ts', import.meta.url))
const TIMEOUT_MS = 10 * 60_000

export class FloorError extends Error {
  override name = 'FloorError'
}

export interface FloorRun {
  transferMs: number
  files: number
  /** CPU time of the sending and the receiving process, from the connection to the last rename. */
  cpuMs: { a: number; b: number }
  /** The machine's busy CPU, this process's, and the two children's (startup included) in the window. */
  machineCpu: { busyMs: number; ownMs: number; childrenMs: number }
}

/** Reads the JSON lines `child` prints, one per call; rejects if it exits first or stays silent. */
function jsonLines(child: ChildProcess, what: string): <T>() => Promise<T> {
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<never>((_, reject) => {
    // 'close', not 'exit': at 'exit' the last line may still wait in the pipe.
    child.once('close', (code) => reject(new FloorError(`${what} exited (${code}): ${stderr.trim()}`)))
  })
  exited.catch(() => {})
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return async <T>() => {
    let timer: NodeJS.Timeout | undefined
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FloorError(`${what} said nothing in ${TIMEOUT_MS} ms`)), TIMEOUT_MS)
    })
    try {
      const line = await Promise.race([lines.next(), exited, silent])
      if (line.done) throw new FloorError(`${what} ended its output: ${stderr.trim()}`)
      try {
        return JSON.parse(line.value) as T
      } catch {
        throw new FloorError(`${what} printed ${JSON.stringify(line.value)}`)
      }
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * Moves every file of `sourceDir` into `receiveDir` (which must exist) and times it: over a bare
 * socket (`bare`), or over a js-libp2p stream (`libp2p`: TCP, Noise, yamux as the node has them).
 */
export async function floorTransfer(
  sourceDir: string,
  receiveDir: string,
  variant: 'bare' | 'libp2p',
): Promise<FloorRun> {
  const suffix = variant === 'libp2p' ? '-libp2p' : ''
  const spawnChild = (args: string[]) =>
    spawnGroup(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const receiver = spawnChild([`receive${suffix}`, receiveDir])
  const fromReceiver = jsonLines(receiver, 'the floor receiver')
  let sender: ChildProcess | undefined
  try {
    const listening = await fromReceiver<{ port?: number; addr?: string }>()
    const received = fromReceiver<{ ms: number; cpuMs: number; files: number }>()
    // The machine's window: from before the sender starts until both children reported (they stay
    // alive until stopped, so their CPU is still theirs in /proc, not this process's as reaped
    // children's). The children's CPU in that window, startup included, is what "others" excludes.
    const machineBefore = await cpuSnapshot()
    const receiverBefore = (await processCpuMs(receiver.pid!)) ?? 0
    sender = spawnChild([`send${suffix}`, String(listening.port ?? listening.addr), sourceDir])
    const sent = jsonLines(sender, 'the floor sender')<{ ms: number; cpuMs: number }>()
    const [a, b] = await Promise.all([sent, received])
    const machineAfter = await cpuSnapshot()
    const childrenMs =
      ((await processCpuMs(receiver.pid!)) ?? 0) - receiverBefore + ((await processCpuMs(sender.pid!)) ?? 0)
    return {
      transferMs: b.ms,
      files: b.files,
      cpuMs: { a: a.cpuMs, b: b.cpuMs },
      machineCpu: {
        busyMs: machineAfter.machineBusyMs - machineBefore.machineBusyMs,
        ownMs: machineAfter.ownMs - machineBefore.ownMs,
        childrenMs,
      },
    }
  } finally {
    await Promise.all([stopChild(receiver), sender === undefined ? undefined : stopChild(sender)])
  }
}
