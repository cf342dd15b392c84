// Runs inside a namespace: serves the built web app (dist/web) as static files on
// http://127.0.0.1:<port>, as any web host would, with the node's own route (same files, types,
// headers and CSP) but no node behind it. Prints one JSON line { url } once it listens.
//   node web-host.ts <port>
import { createServer } from 'node:http'
import { webAppRoute } from '../../src/node/http/web-app-route.ts'

const port = Number(process.argv[2])
const route = webAppRoute()
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
  Promise.resolve(route({ req, res, url, authorized: false }))
    .then((answered) => {
      if (answered) return
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('not found\n')
    })
    .catch((error: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(`${error.message}\n`)
    })
})
server.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` })))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
