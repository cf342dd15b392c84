import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { writeFileAtomic } from '../../blobs/index.ts'

/** 192 bits, URL-safe: it travels in the web app's address (#local=...) and in Authorization headers. */
const TOKEN_BYTES = 24
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,}$/

/**
 * The token that admits changes through the node's HTTP API. It is kept across restarts, as
 * Syncthing keeps its API key: the address `npm start` prints, a page that has it, and scripts on
 * the LAN (--http-host) keep working after the node restarts. Deleting the file makes a new one at
 * the next start, which locks out whoever had the old one.
 */
export async function loadOrCreateApiToken(file: string): Promise<string> {
  const stored = await fs.readFile(file, 'utf8').then(
    (text) => text.trim(),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    },
  )
  if (stored !== undefined && TOKEN_PATTERN.test(stored)) return stored
  // Missing, or not a token we made (a truncated or edited file): make a new one.
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  await writeFileAtomic(file, `${token}\n`, { mode: 0o600 })
  return token
}
