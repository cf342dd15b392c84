/**
 * The web app's address for a browser on this machine: `<app>/#local=<node token>`.
 *
 * The page reads the token from the fragment (a browser never sends the fragment to a server, so
 * it reaches no log), removes it from the address bar, and asks the node's HTTP API, with the
 * token as bearer, for an invite it then joins with over libp2p like any device. Only someone who
 * can read node.json (readable only by the user) or this command's output has the token: another
 * local user, or a process of some other origin in the browser, does not, however near it is to
 * 127.0.0.1.
 */
export const LOCAL_FRAGMENT_KEY = 'local='

export function localWebLink(httpUrl: string, token: string): string {
  const url = new URL(httpUrl)
  url.pathname = '/'
  url.hash = `${LOCAL_FRAGMENT_KEY}${token}`
  return url.toString()
}
