import type { Device } from '../device/device.ts'

/**
 * An operation on the library that the CLI can run either directly on the data (no node running)
 * or inside the running node (LevelDB admits one process): the same code either way. Arguments and
 * results are plain JSON.
 */
export interface OpContext {
  device: Device
  signal: AbortSignal
  /** Present when the op runs inside a running node (for ops that need the network). */
  node?: unknown
}

export interface Op<Args = unknown, Result = unknown> {
  name: string
  run(ctx: OpContext, args: Args): Promise<Result>
}

/** An error an op reports to the user as is (a wrong id, say), exit code 1, no stack trace. */
export class OpError extends Error {
  override name = 'OpError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export function defineOp<Args, Result>(op: Op<Args, Result>): Op<Args, Result> {
  return op
}

/** The running node, for ops that need the network; a clear error when none runs. */
export function requireNode<N>(ctx: OpContext): N {
  if (ctx.node === undefined) {
    throw new OpError(
      'no-node',
      'this needs the running node: start it with `cloudless start` (in another terminal)',
    )
  }
  return ctx.node as N
}
