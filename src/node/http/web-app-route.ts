import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Route } from './server.ts'

/** Where `npm run build:web` puts the web app (vite.config.ts). */
export const WEB_APP_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url))

/**
 * The page's policy: its own scripts, styles and workers only; images and media from itself (the
 * service worker answers media/ and art/); connections to itself and to devices over WebSockets
 * (WebRTC is not governed by CSP). Inline styles are allowed: the views set row positions.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

/**
 * GET / and the web app's files (the browser peer, src/web), from its build. Last in the route
 * list: the API, /stream and /cover come first. Files with a hash in their name are cached for
 * good; index.html and sw.js are revalidated so that a new build reaches the browser.
 */
export function webAppRoute(init: { dir?: string } = {}): Route {
  const root = path.resolve(init.dir ?? WEB_APP_DIR)
  return async ({ req, res, url }) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    let relative: string
    try {
      relative = decodeURIComponent(url.pathname).replace(/^\/+/, '')
    } catch {
      return false
    }
    if (relative === '') relative = 'index.html'
    const file = path.resolve(root, relative)
    // No way out of the app's folder (../, encoded or not), and no dot files.
    if (!file.startsWith(root + path.sep) || relative.split('/').some((part) => part.startsWith('.'))) {
      return false
    }
    const type = TYPES[path.extname(file)]
    if (type === undefined) return false
    let body: Buffer
    try {
      body = await fs.readFile(file)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'EISDIR') throw error
      if (relative !== 'index.html') return false
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('The web app is not built: run `npm run build:web` (npm start and npm test build it).\n')
      return true
    }
    const immutable = relative.startsWith('assets/')
    res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      // The app's own page only: no framing by other sites.
      'x-frame-options': 'DENY',
      ...(type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
    })
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
}
