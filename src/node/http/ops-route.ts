import { OPS, type OpContext, OpError } from '../ops/index.ts'
import { type Route, readJsonBody, sendJson } from './server.ts'

/** POST /api/ops/<name>: runs an op inside the node for the CLI. Needs the token: ops change state. */
export function opsRoute(context: () => Omit<OpContext, 'signal'>): Route {
  return async ({ req, res, url, authorized }) => {
    if (!url.pathname.startsWith('/api/ops/')) return false
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: { code: 'method', message: 'use POST' } })
      return true
    }
    if (!authorized) {
      sendJson(res, 401, { error: { code: 'token', message: 'this needs the node token' } })
      return true
    }
    const op = OPS.get(decodeURIComponent(url.pathname.slice('/api/ops/'.length)))
    if (op === undefined) {
      sendJson(res, 404, { error: { code: 'no-op', message: `no such operation: ${url.pathname}` } })
      return true
    }
    let args: unknown
    try {
      args = await readJsonBody(req)
    } catch (error) {
      sendJson(res, 400, { error: { code: 'bad-request', message: (error as Error).message } })
      return true
    }
    const controller = new AbortController()
    req.once('close', () => {
      if (!res.writableFinished) controller.abort()
    })
    try {
      const result = await op.run({ ...context(), signal: controller.signal }, args)
      sendJson(res, 200, { result: result ?? null })
    } catch (error) {
      const e = error as Error
      const code = error instanceof OpError ? error.code : 'failed'
      sendJson(res, error instanceof OpError ? 400 : 500, { error: { code, message: e.message } })
    }
    return true
  }
}
