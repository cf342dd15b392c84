import { callNodeOp, findRunningNode } from '../control/client.ts'
import { Device } from '../device/device.ts'
import type { Op } from '../ops/index.ts'
import type { CommandContext } from './command.ts'

/**
 * Runs an op where the library is: inside the running node when there is one (LevelDB admits one
 * process), otherwise directly on this device's data.
 */
export async function runOp<A, R>(ctx: CommandContext, op: Op<A, R>, args: A): Promise<R> {
  const node = await findRunningNode(ctx.home)
  if (node !== undefined) return callNodeOp<R>(node, op.name, args, ctx.signal)
  return withDevice(ctx, (device) => op.run({ device, signal: ctx.signal }, args))
}

export async function withDevice<T>(ctx: CommandContext, fn: (device: Device) => Promise<T>): Promise<T> {
  const device = await Device.open(ctx.home)
  try {
    return await fn(device)
  } finally {
    await device.close()
  }
}
