import { scanOp, statusOp, tracksOp, waitTrackOp } from './library-ops.ts'
import { MEDIA_OPS } from './media-ops.ts'
import { NETWORK_OPS } from './network-ops.ts'
import type { Op } from './op.ts'
import { USER_OPS } from './user-ops.ts'

export { defineOp, type Op, type OpContext, OpError } from './op.ts'

/** Every op the running node answers over its control API. Add new ops here. */
// biome-ignore lint/suspicious/noExplicitAny: a registry of ops with different argument types
export const OPS: ReadonlyMap<string, Op<any, any>> = new Map<string, Op<any, any>>(
  [scanOp, tracksOp, statusOp, waitTrackOp, ...USER_OPS, ...NETWORK_OPS, ...MEDIA_OPS].map((op) => [
    op.name,
    op,
  ]),
)
