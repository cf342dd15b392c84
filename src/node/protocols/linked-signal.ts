/**
 * A signal that aborts when any of `sources` does, and that lets go of them again. Used instead of
 * AbortSignal.any() whenever a source lives long (a service's lifetime): in Node 22 every
 * AbortSignal.any() composite stays registered with its sources until garbage collection, which then
 * walks the source's whole set of dependants - quadratic in the number of streams (measured: a
 * 10k-file mirror spent 146 of 175 s there; nodejs/node#55351).
 */
export function linkedSignal(...sources: Array<AbortSignal | undefined>): {
  signal: AbortSignal
  dispose(): void
} {
  const controller = new AbortController()
  const listeners: Array<[AbortSignal, () => void]> = []
  for (const source of sources) {
    if (source === undefined) continue
    if (source.aborted) {
      controller.abort(source.reason)
      break
    }
    const onAbort = () => controller.abort(source.reason)
    source.addEventListener('abort', onAbort, { once: true })
    listeners.push([source, onAbort])
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const [source, onAbort] of listeners) source.removeEventListener('abort', onAbort)
      listeners.length = 0
    },
  }
}
