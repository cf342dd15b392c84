import { parentPort } from 'node:worker_threads'
import { readMediaFile, ScratchBuffer } from './read-media.ts'

/** Worker thread body of ReaderPool: reads files (hash + tags) and posts the outcomes back. */

export interface ReadRequest {
  id: number
  path: string
  size: number
}

export type ReadResponse =
  | { id: number; outcome: Awaited<ReturnType<typeof readMediaFile>> }
  | { id: number; error: { message: string; code?: string } }

if (parentPort === null) throw new Error('read-worker.ts must run in a worker thread')
const port = parentPort

// One read at a time: the scratch buffer is shared, and the work is CPU-bound anyway.
const scratch = new ScratchBuffer()
let queue: Promise<void> = Promise.resolve()
port.on('message', (request: ReadRequest) => {
  queue = queue.then(() => handle(request))
})

async function handle(request: ReadRequest): Promise<void> {
  try {
    const outcome = await readMediaFile(request.path, request.size, { syncIO: true, scratch })
    const transfer: ArrayBuffer[] = []
    if (outcome.kind === 'media') {
      // Hand the buffers over instead of copying them. Cover bytes may be a view into the whole
      // file's buffer, so copy those out first (transferring would move the whole file).
      if (outcome.cover !== null) {
        outcome.cover.bytes = Uint8Array.from(outcome.cover.bytes)
        transfer.push(outcome.cover.bytes.buffer as ArrayBuffer)
      }
    }
    port.postMessage({ id: request.id, outcome } satisfies ReadResponse, transfer)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    port.postMessage({ id: request.id, error: { message: e.message, code: e.code } } satisfies ReadResponse)
  }
}
