// Runs inside a namespace: GETs a URL (the node's /stream), hashes the body, prints one JSON line
// { status, bytes, sha256, firstByteMs, totalMs }. Plain JavaScript, no imports from the project.
import { createHash } from 'node:crypto'
import http from 'node:http'

const url = process.argv[2]
const started = performance.now()
const request = http.get(url, (response) => {
  const hash = createHash('sha256')
  let bytes = 0
  let firstByteMs = null
  response.on('data', (chunk) => {
    firstByteMs ??= performance.now() - started
    bytes += chunk.length
    hash.update(chunk)
  })
  response.on('end', () => {
    const totalMs = performance.now() - started
    console.log(
      JSON.stringify({
        status: response.statusCode,
        bytes,
        sha256: hash.digest('hex'),
        firstByteMs,
        totalMs,
      }),
    )
  })
  response.on('error', (error) => {
    console.error(error.message)
    process.exit(1)
  })
})
request.setTimeout(Number(process.argv[3] ?? 300_000), () => request.destroy(new Error('timed out')))
request.on('error', (error) => {
  console.error(error.message)
  process.exit(1)
})
