import { homeLayout } from '../device/home.ts'
import { type NodeInfo, readNodeInfo } from './node-info.ts'

export class NodeRequestError extends Error {
  override name = 'NodeRequestError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** The running node of this home dir, or undefined when none runs. */
export async function findRunningNode(home: string): Promise<NodeInfo | undefined> {
  return readNodeInfo(homeLayout(home).nodeInfo)
}

/** Runs an op inside the running node through its local HTTP API. */
export async function callNodeOp<R>(
  node: NodeInfo,
  name: string,
  args: unknown,
  signal?: AbortSignal,
): Promise<R> {
  let response: Response
  try {
    response = await fetch(`${node.httpUrl}/api/ops/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(args ?? {}),
      signal,
    })
  } catch (error) {
    throw new NodeRequestError(
      'unreachable',
      `the running node (pid ${node.pid}) does not answer at ${node.httpUrl}: ${describeFetchError(error)}`,
    )
  }
  const body = (await response.json().catch(() => ({}))) as {
    result?: R
    error?: { code: string; message: string }
  }
  if (!response.ok) {
    throw new NodeRequestError(
      body.error?.code ?? String(response.status),
      body.error?.message ?? response.statusText,
    )
  }
  return body.result as R
}

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, a reset, a timeout) is in `cause`. */
function describeFetchError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } }
  const cause = e.cause?.code ?? e.cause?.message
  return cause === undefined ? e.message : `${e.message} (${cause})`
}
