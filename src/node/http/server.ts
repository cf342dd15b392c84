import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The node's HTTP server, careful by default (shared/ARCHITECTURE.md, decision 7): it binds
 * 127.0.0.1; it answers only requests whose Host header names this server (a web page cannot
 * reach it through DNS rebinding); it sends no CORS headers; every request that changes state
 * needs the node's token.
 */

export interface RequestContext {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  /** True when the request carried the node's token. */
  authorized: boolean
}

export type Route = (ctx: RequestContext) => Promise<boolean> | boolean

export interface HttpServerOptions {
  host?: string
  port?: number
  token: string
  routes: Route[]
  log?: (line: string) => void
}

export interface HttpServerHandle {
  server: Server
  url: string
  close(): Promise<void>
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const host = options.host ?? '127.0.0.1'
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      options.log?.(`http: ${req.method} ${req.url} failed: ${error.message}`)
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: error.message } })
      else res.destroy()
    })
  })
  // Clients that poll (scripts, the web app) reuse connections: a short idle timeout makes the
  // server close one just as a request goes out on it (ECONNRESET on the client).
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  let port = 0
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (!hostAllowed(req.headers.host, host, port)) {
      sendJson(res, 421, {
        error: { code: 'bad-host', message: 'this server answers only to its own address' },
      })
      return
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const ctx: RequestContext = { req, res, url, authorized: hasToken(req, options.token) }
    for (const route of options.routes) if (await route(ctx)) return
    sendJson(res, 404, { error: { code: 'not-found', message: `no such resource: ${url.pathname}` } })
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  port = (server.address() as AddressInfo).port
  const shownHost = host.includes(':') ? `[${host}]` : host
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Loopback names always; any Host when bound to the LAN on purpose (the token still guards changes). */
function hostAllowed(header: string | undefined, boundHost: string, port: number): boolean {
  if (header === undefined) return false
  if (boundHost !== '127.0.0.1' && boundHost !== '::1' && boundHost !== 'localhost') return true
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]
  return allowed.includes(header.toLowerCase())
}

function hasToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization
  const given = header?.startsWith('Bearer ') ? header.slice(7) : undefined
  if (given === undefined || given.length !== token.length) return false
  return timingSafeEqual(Buffer.from(given), Buffer.from(token))
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

export async function readJsonBody(req: IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new Error('request body too large')
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  return text === '' ? {} : JSON.parse(text)
}
