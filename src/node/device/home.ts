import os from 'node:os'
import path from 'node:path'

/**
 * Where a device keeps its data: `--home`, else `$CLOUDLESS_HOME`, else the XDG data dir
 * (`$XDG_DATA_HOME/cloudless`, by default `~/.local/share/cloudless`).
 */
export function resolveHomeDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag)
  if (env.CLOUDLESS_HOME) return path.resolve(env.CLOUDLESS_HOME)
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share')
  return path.join(dataHome, 'cloudless')
}

/** The files inside a device's home dir. */
export function homeLayout(home: string) {
  return {
    home,
    db: path.join(home, 'db'),
    covers: path.join(home, 'covers'),
    cache: path.join(home, 'cache'),
    config: path.join(home, 'config.json'),
    identity: path.join(home, 'identity.key'),
    /** The HTTP API's token (readable only by the user); kept across restarts, delete it to change it. */
    apiToken: path.join(home, 'api-token'),
    /** Written by a running node: how other commands on this machine reach it. */
    nodeInfo: path.join(home, 'node.json'),
  }
}

export type HomeLayout = ReturnType<typeof homeLayout>
