/// <reference lib="webworker" />
import type { BlobKind, BridgeReply, BridgeRequest, OpenReply } from './stream/messages.ts'
import { ART_PATH, MEDIA_PATH } from './stream/messages.ts'

/**
 * The service worker (ARCHITECTURE.md, decision 4): it answers the <audio>/<video> element's
 * Range requests for `media/<trackId>` with the track's bytes, which it asks the page for, block
 * by block (the page runs the libp2p node and verifies every block). Every format the browser
 * decodes then plays and seeks, as from any web server.
 */
declare const self: ServiceWorkerGlobalScope

class BridgeError extends Error {
  override name = 'BridgeError'
}

/** The app shell, for offline use: what the build lists in precache.json, and what loads later. */
const SHELL_CACHE = 'cloudless-shell'

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const list = (await (await fetch('precache.json', { cache: 'no-cache' })).json()) as string[]
      const cache = await caches.open(SHELL_CACHE)
      await cache.addAll(list)
      await self.skipWaiting()
    })(),
  )
})
self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim())
})

const scope = new URL(self.registration.scope)
const mediaPrefix = new URL(MEDIA_PATH, scope).pathname
const artPrefix = new URL(ART_PATH, scope).pathname
const assetsPrefix = new URL('assets/', scope).pathname
const shellFiles = new Set(['', 'index.html', 'manifest.webmanifest', 'icon.svg', 'precache.json'])

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (url.origin !== self.location.origin || event.request.method !== 'GET') return
  if (url.pathname.startsWith(mediaPrefix)) {
    const trackId = decodeURIComponent(url.pathname.slice(mediaPrefix.length))
    event.respondWith(serveMedia(event, 'track', trackId))
    return
  }
  if (url.pathname.startsWith(artPrefix)) {
    const coverId = decodeURIComponent(url.pathname.slice(artPrefix.length))
    event.respondWith(serveMedia(event, 'cover', coverId))
    return
  }
  const relative = url.pathname.startsWith(scope.pathname) ? url.pathname.slice(scope.pathname.length) : null
  if (relative !== null && (shellFiles.has(relative) || url.pathname.startsWith(assetsPrefix))) {
    event.respondWith(shell(event.request))
  }
})

/**
 * The app's own files: from the network while the device serving them is up (a new build shows at
 * once), else from the cache, so the app opens while no device is reachable.
 */
async function shell(request: Request): Promise<Response> {
  const cache = await caches.open(SHELL_CACHE)
  try {
    const response = await fetch(request)
    if (response.ok) await cache.put(request, response.clone())
    return response
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true })
    if (cached !== undefined) return cached
    throw error
  }
}

async function serveMedia(event: FetchEvent, kind: BlobKind, id: string): Promise<Response> {
  try {
    const client = await pageClient(event.clientId)
    const opened = await ask<OpenReply>(client, { type: 'open', kind, id })
    const range = parseRange(event.request.headers.get('range'), opened.size)
    if (range === 'unsatisfiable') {
      return new Response(null, { status: 416, headers: { 'content-range': `bytes */${opened.size}` } })
    }
    const start = range?.start ?? 0
    const end = range?.end ?? opened.size - 1
    const headers = new Headers({
      'content-type': opened.mime,
      'accept-ranges': 'bytes',
      'content-length': String(end - start + 1),
      etag: `"${opened.contentId}"`,
    })
    if (range !== undefined) headers.set('content-range', `bytes ${start}-${end}/${opened.size}`)
    if (kind === 'cover') headers.set('cache-control', 'private, max-age=31536000, immutable')
    const body = event.request.method === 'HEAD' ? null : blockStream(client, kind, id, opened, start, end)
    return new Response(body, { status: range === undefined ? 200 : 206, headers })
  } catch (error) {
    const e = error as Error
    return new Response(JSON.stringify({ error: { code: e.name, message: e.message } }), {
      status: e.name === 'TrackNotFoundError' || e.name === 'CoverNotFoundError' ? 404 : 502,
      headers: { 'content-type': 'application/json' },
    })
  }
}

/** Bytes `start`..`end` (inclusive), asking the page for one block at a time as the element reads. */
function blockStream(
  client: Client,
  kind: BlobKind,
  id: string,
  opened: OpenReply,
  start: number,
  end: number,
) {
  let position = start
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (position > end) {
        controller.close()
        return
      }
      const index = Math.floor(position / opened.blockSize)
      const reply = await ask<{ type: 'block'; bytes: ArrayBuffer }>(client, {
        type: 'block',
        kind,
        id,
        index,
      })
      const blockStart = index * opened.blockSize
      const bytes = new Uint8Array(reply.bytes).subarray(position - blockStart, end + 1 - blockStart)
      position += bytes.length
      controller.enqueue(bytes)
      if (position > end) controller.close()
    },
  })
}

async function pageClient(clientId: string): Promise<Client> {
  const own = clientId === '' ? undefined : await self.clients.get(clientId)
  if (own !== undefined) return own
  // A request without a client (a media element's follow-up in some browsers): any open page will do.
  const [any] = await self.clients.matchAll({ type: 'window' })
  if (any === undefined) throw new BridgeError('no page of the app is open to fetch the track')
  return any
}

function ask<T extends BridgeReply>(client: Client, request: BridgeRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const channel = new MessageChannel()
    channel.port1.onmessage = (event: MessageEvent<BridgeReply>) => {
      channel.port1.close()
      const reply = event.data
      if (reply.type === 'error') {
        const error = new BridgeError(reply.message)
        error.name = reply.name
        reject(error)
      } else resolve(reply as T)
    }
    client.postMessage(request, [channel.port2])
  })
}

function parseRange(
  header: string | null,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === null) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match === null) return undefined
  const [, from, to] = match
  if (from === '' && to === '') return undefined
  let start: number
  let end: number
  if (from === '') {
    start = Math.max(0, size - Number(to))
    end = size - 1
  } else {
    start = Number(from)
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1)
  }
  if (start >= size || start > end) return 'unsatisfiable'
  return { start, end }
}
