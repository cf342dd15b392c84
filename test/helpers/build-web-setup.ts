import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * Vitest global setup: the browser tests load the web app the node serves from dist/web, so it
 * is built first when its sources changed (scripts/build-web.ts --if-needed; ~0.1 s otherwise).
 */
export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/build-web.ts', import.meta.url))
  execFileSync(process.execPath, [script, '--if-needed'], { stdio: 'inherit' })
}
