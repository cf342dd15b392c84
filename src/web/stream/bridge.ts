import type { BlockSource, OpenedTrack } from './block-source.ts'
import type { BlobKind, BridgeReply, BridgeRequest } from './messages.ts'

/**
 * The page's side of the service worker bridge: answers the worker's 'open' and 'block' requests
 * from the BlockSource. Each request comes with its own MessagePort for the reply.
 */
export function answerServiceWorker(source: BlockSource): () => void {
  const opened = new Map<string, Promise<OpenedTrack>>()
  const openBlob = (kind: BlobKind, id: string): Promise<OpenedTrack> => {
    const key = `${kind}:${id}`
    let promise = opened.get(key)
    if (promise === undefined) {
      const signal = AbortSignal.timeout(30_000)
      promise = kind === 'cover' ? source.openCover(id, signal) : source.open(id, signal)
      opened.set(key, promise)
      promise.catch(() => opened.delete(key))
    }
    return promise
  }
  const onMessage = (event: MessageEvent): void => {
    const request = event.data as BridgeRequest | undefined
    const port = event.ports[0]
    if (port === undefined || request === undefined || typeof request !== 'object') return
    answer(request)
      .then(([reply, transfer]) => port.postMessage(reply, transfer))
      .catch((error: Error) => {
        const reply: BridgeReply = { type: 'error', name: error.name, message: error.message }
        port.postMessage(reply)
      })
  }
  const answer = async (request: BridgeRequest): Promise<[BridgeReply, Transferable[]]> => {
    const track = await openBlob(request.kind, request.id)
    if (request.type === 'open') {
      const { manifest } = track
      return [
        {
          type: 'open',
          size: manifest.size,
          blockSize: manifest.blockSize,
          mime: track.mime,
          contentId: track.contentId,
        },
        [],
      ]
    }
    const bytes = await source.block(track, request.index)
    // A copy the worker can own: the cached block stays intact for the next reader.
    const copy = bytes.slice().buffer
    return [{ type: 'block', bytes: copy }, [copy]]
  }
  navigator.serviceWorker.addEventListener('message', onMessage)
  return () => navigator.serviceWorker.removeEventListener('message', onMessage)
}

/** Registers the service worker and resolves once it controls this page. */
export async function startServiceWorker(): Promise<void> {
  const registering = navigator.serviceWorker.register('./sw.js', { scope: './', type: 'module' })
  if (navigator.serviceWorker.controller !== null) {
    // Already in charge (the usual case): checking for a newer worker fails while offline,
    // which must not stop the app.
    registering.catch(() => {})
    return
  }
  await registering
  await new Promise<void>((resolve) => {
    navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true })
  })
}
