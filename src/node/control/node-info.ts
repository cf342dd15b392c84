import { promises as fs } from 'node:fs'
import { writeFileAtomic } from '../../blobs/index.ts'

/**
 * What a running node writes into its home dir (node.json, readable only by the user) so that the
 * CLI on the same machine can reach it: where its HTTP API listens and the token that admits changes.
 */
export interface NodeInfo {
  pid: number
  /** e.g. http://127.0.0.1:4533 */
  httpUrl: string
  token: string
  peerId: string
  startedAt: number
}

export async function writeNodeInfo(file: string, info: NodeInfo): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 })
}

export async function readNodeInfo(file: string): Promise<NodeInfo | undefined> {
  try {
    const info = JSON.parse(await fs.readFile(file, 'utf8')) as NodeInfo
    return isProcessAlive(info.pid) ? info : undefined
  } catch {
    return undefined
  }
}

export async function removeNodeInfo(file: string): Promise<void> {
  await fs.rm(file, { force: true })
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
