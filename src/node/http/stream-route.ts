import type { ServerResponse } from 'node:http'
import type { FsBlobStore } from '../../blobs/index.ts'
import { BlobNotFoundError, isContentId } from '../../blobs/index.ts'
import type { Catalog } from '../../crdt/index.ts'
import { NoSourceError } from '../media/peer-fetcher.ts'
import { TrackNotFoundError, type TrackStreamer } from '../media/track-streamer.ts'
import { parseRange } from './range.ts'
import { type RequestContext, type Route, sendJson } from './server.ts'

/**
 * GET/HEAD /stream/<trackId>: the track's bytes with Range support (206, Accept-Ranges,
 * Content-Length, Content-Type, ETag), from this device's file, the cache or another device -
 * any player (a browser, ffplay, mpv, VLC) can play the URL.
 */
export function streamRoute(init: { streamer: () => TrackStreamer | undefined; catalog: Catalog }): Route {
  return async (ctx) => {
    const match = /^\/stream\/([A-Za-z0-9]+)$/.exec(ctx.url.pathname)
    if (match === null) return false
    const { req, res } = ctx
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: { code: 'method', message: 'use GET or HEAD' } })
      return true
    }
    const streamer = init.streamer()
    if (streamer === undefined) {
      sendJson(res, 503, { error: { code: 'starting', message: 'the node is still starting' } })
      return true
    }
    const controller = new AbortController()
    res.once('close', () => controller.abort())
    let opened: Awaited<ReturnType<TrackStreamer['open']>>
    try {
      opened = await streamer.open(match[1]!, controller.signal)
    } catch (error) {
      sendError(ctx, error)
      return true
    }
    const { size, record } = opened
    const etag = `"${record.contentId}"`
    const ifRange = req.headers['if-range']
    const range = ifRange !== undefined && ifRange !== etag ? null : parseRange(req.headers.range, size)
    const headers: Record<string, string | number> = {
      'accept-ranges': 'bytes',
      'content-type': record.mime ?? 'application/octet-stream',
      etag,
      'cache-control': 'private, max-age=31536000, immutable',
    }
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` })
      res.end()
      return true
    }
    const start = range?.start ?? 0
    const end = range?.end ?? size - 1
    if (req.headers['if-none-match'] === etag && range === null) {
      res.writeHead(304, headers)
      res.end()
      return true
    }
    headers['content-length'] = size === 0 ? 0 : end - start + 1
    if (range !== null) headers['content-range'] = `bytes ${start}-${end}/${size}`
    if (req.method === 'HEAD' || size === 0) {
      res.writeHead(range === null ? 200 : 206, headers)
      res.end()
      return true
    }
    // The first bytes before the status: a track no device can deliver (all offline, or the only
    // one sends bytes that fail verification) gets an error status that says why, not a cut
    // connection. The player waits for them either way.
    const chunks = opened.read(start, end, controller.signal)[Symbol.asyncIterator]()
    let first: IteratorResult<Uint8Array>
    try {
      first = await chunks.next()
    } catch (error) {
      sendError(ctx, error, record.title)
      return true
    }
    res.writeHead(range === null ? 200 : 206, headers)
    try {
      for (let next = first; !next.done; next = await chunks.next()) {
        if (!res.write(next.value)) await drainedOrClosed(res)
        if (controller.signal.aborted) break
      }
      res.end()
    } catch (error) {
      // Headers are gone: all we can do is cut the response short, so the player sees an error
      // rather than silently wrong bytes.
      if (!controller.signal.aborted) res.destroy(error as Error)
    } finally {
      // Stops the reads when the player went away (what `break` in a for-await did).
      await chunks.return?.(undefined)?.catch(() => {})
    }
    return true
  }
}

/** GET /cover/<coverId>: cover art, from this device's cover store. */
export function coverRoute(init: { covers: FsBlobStore; catalog: Catalog }): Route {
  return async ({ req, res, url }) => {
    const match = /^\/cover\/([a-z2-7]+)$/.exec(url.pathname)
    if (match === null) return false
    const id = match[1]!
    if (!isContentId(id) || req.method !== 'GET') {
      sendJson(res, 404, { error: { code: 'not-found', message: 'no such cover' } })
      return true
    }
    try {
      const bytes = await init.covers.get(id)
      const mime = init.catalog.getCover(id)?.mime ?? 'application/octet-stream'
      res.writeHead(200, {
        'content-type': mime,
        'content-length': bytes.length,
        etag: `"${id}"`,
        'cache-control': 'private, max-age=31536000, immutable',
      })
      res.end(bytes)
    } catch (error) {
      if (error instanceof BlobNotFoundError)
        sendJson(res, 404, { error: { code: 'not-found', message: error.message } })
      else throw error
    }
    return true
  }
}

/** `title`, when known, names the track in the message (`cloudless get` prints it as it is). */
function sendError({ res }: RequestContext, error: unknown, title?: string): void {
  if (error instanceof TrackNotFoundError)
    sendJson(res, 404, { error: { code: 'not-found', message: error.message } })
  else if (error instanceof NoSourceError) {
    const message = title === undefined ? error.message : `could not get "${title}": ${error.message}`
    sendJson(res, 503, { error: { code: 'unavailable', message } })
  } else if ((error as Error).name === 'AbortError') res.destroy()
  else sendJson(res, 500, { error: { code: 'internal', message: (error as Error).message } })
}

/** Until the response takes more bytes, or the player went away (then no 'drain' ever comes). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
