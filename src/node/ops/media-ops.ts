import type { CacheUsage } from '../../blobs/index.ts'
import type { CloudlessNode } from '../daemon/node.ts'
import type { FetchProgress } from '../media/pins.ts'
import { PinTargetError } from '../media/pins.ts'
import { defineOp, type OpContext, OpError, requireNode as requireNodeOf } from './op.ts'
import { resolveTrackId } from './user-ops.ts'

const requireNode = (ctx: OpContext) => requireNodeOf<CloudlessNode>(ctx)

function targetError(error: unknown): never {
  if (error instanceof PinTargetError) throw new OpError('unknown-target', error.message)
  throw error
}

export const pinOp = defineOp<{ target: string }, { label: string; tracks: number; toFetch: number }>({
  name: 'pin',
  async run(ctx, args) {
    const node = requireNode(ctx)
    return node.media.pins.pin(args.target).catch(targetError)
  },
})

export const unpinOp = defineOp<{ target: string }, { label: string; tracks: number }>({
  name: 'unpin',
  async run(ctx, args) {
    const node = requireNode(ctx)
    return node.media.pins.unpin(args.target).catch(targetError)
  },
})

export interface CacheStatus {
  usage: CacheUsage
  mirror: boolean
  pins: Array<{ label: string; blobs: number; complete: number; bytes: number }>
  /** Tracks being fetched now, and those that failed (tried again later). */
  fetching: FetchProgress[]
  /** Tracks waiting their turn. */
  queued: { files: number; bytes: number }
}

export const cacheOp = defineOp<{ limitBytes?: number }, CacheStatus>({
  name: 'cache',
  async run(ctx, args) {
    const node = requireNode(ctx)
    const { cache, pins } = node.media
    if (args.limitBytes !== undefined) {
      if (!(args.limitBytes >= 0))
        throw new OpError('bad-args', 'the cache limit must be a size of 0 or more bytes')
      await cache.setLimit(args.limitBytes)
      await ctx.device.saveConfig({ ...ctx.device.config, cacheLimitBytes: args.limitBytes })
    }
    return {
      usage: cache.usage(),
      mirror: ctx.device.config.mirror,
      pins: cache.pinTotals(),
      ...(({ active, queued }) => ({ fetching: active, queued }))(pins.activity()),
    }
  },
})

export const mirrorOp = defineOp<{ on?: boolean }, { mirror: boolean; queued: number }>({
  name: 'mirror',
  async run(ctx, args) {
    const node = requireNode(ctx)
    if (args.on !== undefined && args.on !== ctx.device.config.mirror) {
      await ctx.device.saveConfig({ ...ctx.device.config, mirror: args.on })
    }
    const queued = ctx.device.config.mirror ? await node.media.pins.mirrorAll() : 0
    return { mirror: ctx.device.config.mirror, queued }
  },
})

export const resolveTrackOp = defineOp<
  { track: string },
  { id: string; title: string; size: number; contentId: string; mime: string | null }
>({
  name: 'resolve-track',
  async run(ctx, args) {
    const id = resolveTrackId(ctx.device.catalog, args.track)
    const record = ctx.device.catalog.getTrack(id)!
    return { id, title: record.title, size: record.size, contentId: record.contentId, mime: record.mime }
  },
})

export const MEDIA_OPS = [pinOp, unpinOp, cacheOp, mirrorOp, resolveTrackOp]
