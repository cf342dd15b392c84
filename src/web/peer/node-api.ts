import { idbDelete, idbGet, idbPut } from './idb.ts'

/**
 * The page and the node that serves it, on this machine. Being served from 127.0.0.1 proves
 * nothing (every local user and process can reach the port), so the page is trusted only when it
 * holds the node's token: `npm start` prints the app's address with the token in the fragment
 * (`#local=<token>`, src/node/http/local-link.ts), which no server ever sees. The page asks the
 * node's HTTP API for an invite with it (bearer token; the API checks the Host header and sends
 * no CORS headers, so no other site can ask) and pairs over libp2p like any device.
 */

export const LOCAL_FRAGMENT_KEY = 'local='
const TOKEN_KEY = 'node-token'

export class NodeApiError extends Error {
  override name = 'NodeApiError'
  readonly status: number
  constructor(message: string, status: number) {
    super(message)
    this.status = status
  }
}

export interface NodeInvite {
  /** cloudless://join#… for `cloudless join`. */
  link: string
  /** The web app's address with the invite in its fragment, for a browser. */
  webLink: string
  code: string | null
  expiresAt: number
}

/** The node token in a page's URL fragment (`#local=<token>`), or undefined. */
export function tokenFromFragment(hash: string): string | undefined {
  const fragment = hash.startsWith('#') ? hash.slice(1) : hash
  if (!fragment.startsWith(LOCAL_FRAGMENT_KEY)) return undefined
  const token = decodeURIComponent(fragment.slice(LOCAL_FRAGMENT_KEY.length)).trim()
  return /^[A-Za-z0-9_-]{16,}$/.test(token) ? token : undefined
}

/** An invite from the node that serves this page, made with its token. */
export async function requestInvite(
  token: string,
  options: { ttlMinutes: number; signal?: AbortSignal },
): Promise<NodeInvite> {
  let response: Response
  try {
    response = await fetch(new URL('api/ops/invite', document.baseURI), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttlMinutes: options.ttlMinutes }),
      cache: 'no-store',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    throw new NodeApiError(`the node does not answer: ${(error as Error).message}`, 0)
  }
  const body = (await response.json().catch(() => ({}))) as {
    result?: NodeInvite
    error?: { message?: string }
  }
  if (response.status === 401)
    throw new NodeApiError(
      'the node does not accept this key: it has restarted since. Open the address `npm start` printed.',
      401,
    )
  if (!response.ok || body.result === undefined)
    throw new NodeApiError(body.error?.message ?? `the node answered ${response.status}`, response.status)
  return body.result
}

/**
 * The token is kept for the "invite another device" button. It is as safe in this origin's
 * storage as in node.json: only the user's own account reads either, and only this app's scripts
 * run on this origin. A node that restarted has a new token; the old one is then refused. A token
 * is kept only once the node accepted it: a link with a wrong one replaces nothing.
 */
let offered: string | undefined

/** The token of this page's address, not tried yet. */
export function offerToken(token: string): void {
  offered = token
}

/** An invite with the token this page was opened with, else the one kept (keeping what worked). */
export async function inviteWithKnownToken(options: {
  ttlMinutes: number
  signal?: AbortSignal
}): Promise<NodeInvite> {
  const kept = await idbGet<string>('keys', TOKEN_KEY).catch(() => undefined)
  const tokens = [...new Set([offered, kept])].filter((t) => t !== undefined)
  if (tokens.length === 0)
    throw new NodeApiError(
      'This page does not hold the key of the node: open the address `npm start` printed, or run `cloudless invite` on a device of the library.',
      401,
    )
  let refused: NodeApiError | undefined
  for (const token of tokens) {
    try {
      const invite = await requestInvite(token, options)
      if (token !== kept) await idbPut('keys', TOKEN_KEY, token)
      offered = undefined
      return invite
    } catch (error) {
      if (!(error instanceof NodeApiError && error.status === 401)) throw error
      refused = error
      if (token === kept) await idbDelete('keys', TOKEN_KEY).catch(() => {})
    }
  }
  throw refused!
}
