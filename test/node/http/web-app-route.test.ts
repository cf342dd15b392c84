import { promises as fs } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HttpServerHandle, startHttpServer } from '../../../src/node/http/server.ts'
import { webAppRoute } from '../../../src/node/http/web-app-route.ts'
import { tempDir } from '../../helpers/fixtures.ts'

/** The node serving the web app's build: its files, nothing else, and a clear word when it is not built. */
describe('the web app route', () => {
  let dir: string
  let secret: string
  let server: HttpServerHandle
  let missing: HttpServerHandle

  beforeAll(async () => {
    const root = await tempDir('web-app')
    dir = path.join(root, 'web')
    await fs.mkdir(path.join(dir, 'assets'), { recursive: true })
    await fs.writeFile(path.join(dir, 'index.html'), '<!doctype html><title>app</title>')
    await fs.writeFile(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)')
    await fs.writeFile(path.join(dir, 'sw.js'), '// worker')
    await fs.writeFile(path.join(dir, '.hidden.json'), '{}')
    secret = path.join(root, 'secret.json')
    await fs.writeFile(secret, '{"token":"x"}')
    server = await startHttpServer({ token: 't', routes: [webAppRoute({ dir })] })
    missing = await startHttpServer({
      token: 't',
      routes: [webAppRoute({ dir: path.join(root, 'nothing') })],
    })
  })
  afterAll(async () => {
    await server?.close()
    await missing?.close()
    await fs.rm(path.dirname(dir), { recursive: true, force: true })
  })

  it('serves the page at / with a strict policy, and the files of the build', async () => {
    const page = await fetch(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('<title>app</title>')
    const asset = await fetch(`${server.url}/assets/index-abc.js`)
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(asset.headers.get('cache-control')).toContain('immutable')
    expect((await fetch(`${server.url}/sw.js`)).headers.get('cache-control')).toBe('no-cache')
  })

  it('serves nothing outside the build, no dot files and no unknown paths', async () => {
    for (const bad of [
      '/../secret.json',
      '/%2e%2e/secret.json',
      '/assets/..%2f..%2fsecret.json',
      '/.hidden.json',
      '/nope.js',
      '/assets/',
    ]) {
      const response = await fetch(`${server.url}${bad}`)
      expect(response.status, bad).toBe(404)
      expect(await response.text(), bad).not.toContain('token')
    }
  })

  it('refuses a raw ../ path (one no fetch client would send)', async () => {
    const { port } = new URL(server.url)
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/../secret.json' }, (res) => {
        res.resume()
        resolve(res.statusCode)
      })
      req.on('error', reject)
    })
    expect(status).toBe(404)
  })

  it('says how to build the app when it is not built', async () => {
    const response = await fetch(`${missing.url}/`)
    expect(response.status).toBe(503)
    expect(await response.text()).toContain('npm run build:web')
  })
})
