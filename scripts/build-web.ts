/**
 * Builds the web app (src/web -> dist/web) with Vite. With --if-needed, only when its inputs
 * changed since the last build (a fingerprint of their paths, sizes and mtimes), so `npm start`
 * and `npm test` can run it every time on a clean clone and cost ~0.1 s otherwise.
 */
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT = path.join(ROOT, 'dist', 'web')
const STAMP = path.join(OUT, 'build-stamp.txt')
// Everything the bundle is made of: the app, the modules it imports, the build settings.
const INPUTS = [
  'src/web',
  'src/crdt',
  'src/blobs',
  'src/node/protocols',
  'src/node/access',
  'vite.config.ts',
  'package-lock.json',
]

async function fingerprint(): Promise<string> {
  const hash = createHash('sha256')
  const visit = async (relative: string): Promise<void> => {
    const full = path.join(ROOT, relative)
    const stat = await fs.stat(full).catch(() => undefined)
    if (stat === undefined) return
    if (stat.isDirectory()) {
      for (const name of (await fs.readdir(full)).sort()) await visit(path.join(relative, name))
      return
    }
    hash.update(`${relative}\0${stat.size}\0${stat.mtimeMs}\n`)
  }
  for (const input of INPUTS) await visit(input)
  return hash.digest('hex')
}

const ifNeeded = process.argv.includes('--if-needed')
const current = await fingerprint()
const previous = await fs.readFile(STAMP, 'utf8').catch(() => '')
if (ifNeeded && previous.trim() === current) process.exit(0)

const started = performance.now()
const { build } = await import('vite')
await build({ configFile: path.join(ROOT, 'vite.config.ts'), logLevel: 'warn' })
await fs.writeFile(STAMP, `${current}\n`)
process.stderr.write(
  `web app built into dist/web in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
)
