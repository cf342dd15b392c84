import os from 'node:os'
import { Worker } from 'node:worker_threads'
import type { ReadOutcome } from './read-media.ts'
import type { ReadRequest, ReadResponse } from './read-worker.ts'

export class ReaderPoolClosedError extends Error {
  override name = 'ReaderPoolClosedError'
}

interface Pending {
  resolve: (outcome: ReadOutcome) => void
  reject: (error: Error) => void
  worker: WorkerSlot
}

interface WorkerSlot {
  worker: Worker
  busy: number
}

/**
 * Reads files (hash + tags) on worker threads, so that a first scan uses every core and the
 * thread that owns the catalog only writes results. A worker that dies is replaced; the reads it
 * had in hand fail with its error and are reported as skipped by the scanner.
 */
export class ReaderPool {
  readonly size: number
  readonly #slots: WorkerSlot[] = []
  readonly #pending = new Map<number, Pending>()
  #nextId = 0
  #closed = false

  constructor(size = defaultPoolSize()) {
    this.size = size
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn())
  }

  read = (path: string, size: number, signal?: AbortSignal): Promise<ReadOutcome> => {
    if (this.#closed) return Promise.reject(new ReaderPoolClosedError('the reader pool is closed'))
    signal?.throwIfAborted()
    const slot = this.#slots.reduce((a, b) => (b.busy < a.busy ? b : a))
    const id = this.#nextId++
    slot.busy++
    return new Promise<ReadOutcome>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: slot })
      slot.worker.postMessage({ id, path, size } satisfies ReadRequest)
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()))
    for (const pending of this.#pending.values())
      pending.reject(new ReaderPoolClosedError('the reader pool is closed'))
    this.#pending.clear()
  }

  #spawn(): WorkerSlot {
    const worker = new Worker(new URL('./read-worker.ts', import.meta.url))
    const slot: WorkerSlot = { worker, busy: 0 }
    worker.on('message', (response: ReadResponse) => {
      const pending = this.#pending.get(response.id)
      if (pending === undefined) return
      this.#pending.delete(response.id)
      slot.busy--
      if ('error' in response) {
        const error = Object.assign(new Error(response.error.message), { code: response.error.code })
        pending.reject(error)
      } else pending.resolve(response.outcome)
    })
    worker.on('error', (error) => this.#replace(slot, error))
    return slot
  }

  #replace(slot: WorkerSlot, error: Error): void {
    for (const [id, pending] of this.#pending) {
      if (pending.worker !== slot) continue
      this.#pending.delete(id)
      pending.reject(new Error(`the reader thread failed: ${error.message}`))
    }
    const index = this.#slots.indexOf(slot)
    if (index >= 0 && !this.#closed) this.#slots[index] = this.#spawn()
  }
}

function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()))
}
