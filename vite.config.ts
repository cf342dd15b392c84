import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'

/**
 * The web app (src/web) built into dist/web: plain static files, served by the node's HTTP server
 * and by any static host (relative base, so it works under any path).
 */

/**
 * Platform splits: where a module `x.ts` has a sibling `x.browser.ts`, the browser build takes
 * that one (the same rule as a package's `browser` field, for our own sources).
 */
function browserVariants(): Plugin {
  return {
    name: 'cloudless-browser-variants',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (importer === undefined || !source.startsWith('.') || !source.endsWith('.ts')) return null
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
      if (resolved === null || !resolved.id.endsWith('.ts') || resolved.id.endsWith('.browser.ts'))
        return null
      const variant = resolved.id.replace(/\.ts$/, '.browser.ts')
      return existsSync(variant) ? variant : null
    },
  }
}

/**
 * precache.json: the files the service worker keeps for offline use (the app shell). Hashed
 * names change with every build, so the list is made by the build.
 */
function precacheList(): Plugin {
  return {
    name: 'cloudless-precache-list',
    apply: 'build',
    generateBundle(_options, bundle) {
      const built = Object.keys(bundle).filter((name) => !name.endsWith('.map') && name !== 'sw.js')
      const files = [
        './',
        ...built,
        ...readdirSync(fileURLToPath(new URL('./src/web/public/', import.meta.url))),
      ]
      this.emitFile({ type: 'asset', fileName: 'precache.json', source: `${JSON.stringify(files)}\n` })
    },
  }
}

const web = fileURLToPath(new URL('./src/web/', import.meta.url))

export default defineConfig({
  root: web,
  base: './',
  logLevel: 'warn',
  plugins: [browserVariants(), precacheList()],
  build: {
    outDir: fileURLToPath(new URL('./dist/web/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2023',
    sourcemap: true,
    // libp2p and Yjs make one big chunk; it is cached by the browser and the service worker.
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      input: { index: `${web}index.html`, sw: `${web}sw.ts` },
      output: {
        // The service worker keeps a fixed name at the root: its scope is where it lives.
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
})
