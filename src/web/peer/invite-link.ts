import { LINK_PREFIX } from '../../node/protocols/pairing/index.ts'

/**
 * Invite links for the web app: `<app address>#join=<payload>`, the payload of a
 * `cloudless://join#<payload>` link. The fragment never leaves the browser: the server that
 * serves the app never sees the secret.
 */
export const FRAGMENT_KEY = 'join='

/** The invite in a page's URL fragment, as text `parseInvite` reads, or undefined. */
export function inviteFromFragment(hash: string): string | undefined {
  const fragment = hash.startsWith('#') ? hash.slice(1) : hash
  if (!fragment.startsWith(FRAGMENT_KEY)) return undefined
  const payload = decodeURIComponent(fragment.slice(FRAGMENT_KEY.length)).trim()
  return payload === '' ? undefined : LINK_PREFIX + payload
}

/** The web link for an invite link (`cloudless://join#…`) and the app's address. */
export function webInviteLink(appUrl: string, inviteLink: string): string {
  const payload = inviteLink.startsWith(LINK_PREFIX) ? inviteLink.slice(LINK_PREFIX.length) : inviteLink
  const url = new URL(appUrl)
  url.hash = `${FRAGMENT_KEY}${payload}`
  return url.toString()
}
