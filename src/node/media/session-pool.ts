import type { BlobSession } from '../protocols/blob/index.ts'

/** The part of a blob session the media layer uses (tests pass fakes of just this). */
export type SessionLike = Pick<
  BlobSession,
  'pending' | 'closed' | 'manifest' | 'blocks' | 'manifestAndBlocks' | 'close' | 'abort'
>

export interface SessionOpener {
  openSession(peer: string, options?: { signal?: AbortSignal }): Promise<SessionLike>
}

export interface SessionPoolOptions {
  /** Sessions (streams) per device: fewer than the device serves at once, so a player still gets one. */
  sessionsPerPeer?: number
  /** Blobs fetched at once on one session; their requests wait in the stream, so the server never idles. */
  blobsPerSession?: number
  /** A session without calls is closed after this long. */
  idleMs?: number
}

interface PooledSession {
  session: SessionLike
  /** Blobs using the session now (each may have several calls). */
  users: number
  idleTimer: NodeJS.Timeout | undefined
}

/**
 * Long-lived blob sessions per device, shared by the blobs being fetched: each blob borrows a session
 * for its manifest and blocks, up to `blobsPerSession` at once, so hundreds of small files go out on
 * a few streams without a round trip each. A session that failed is dropped and a new one opened.
 */
export class SessionPool {
  readonly #opener: SessionOpener
  readonly #sessionsPerPeer: number
  readonly #blobsPerSession: number
  readonly #idleMs: number
  readonly #signal: AbortSignal
  readonly #byPeer = new Map<string, PooledSession[]>()
  readonly #opening = new Map<string, Promise<PooledSession>>()
  readonly #waiters = new Map<string, Array<() => void>>()

  constructor(opener: SessionOpener, signal: AbortSignal, options: SessionPoolOptions = {}) {
    this.#opener = opener
    this.#signal = signal
    this.#sessionsPerPeer = options.sessionsPerPeer ?? 4
    this.#blobsPerSession = options.blobsPerSession ?? 16
    this.#idleMs = options.idleMs ?? 2000
    signal.addEventListener('abort', () => {
      for (const list of this.#byPeer.values()) {
        for (const pooled of list) pooled.session.abort(toError(signal.reason))
      }
    })
  }

  /** Blobs `peer`'s sessions can take at once. */
  get capacityPerPeer(): number {
    return this.#sessionsPerPeer * this.#blobsPerSession
  }

  /**
   * Runs `fn` with a session to `peer`, waiting while every session to it is at its limit. A
   * session that `fn` leaves closed (the server ended it) is not reused.
   */
  async use<T>(peer: string, fn: (session: SessionLike) => Promise<T>): Promise<T> {
    const pooled = await this.#acquire(peer)
    try {
      return await fn(pooled.session)
    } finally {
      this.#release(peer, pooled)
    }
  }

  /** Resets every session to `peer` (it sent bad bytes): their calls fail with `reason`. */
  abortPeer(peer: string, reason: Error): void {
    for (const pooled of this.#byPeer.get(peer) ?? []) pooled.session.abort(reason)
  }

  /** Closes every session (waits for their calls). */
  async close(): Promise<void> {
    const all = [...this.#byPeer.values()].flat()
    this.#byPeer.clear()
    await Promise.allSettled(all.map((p) => p.session.close()))
  }

  async #acquire(peer: string): Promise<PooledSession> {
    for (;;) {
      this.#signal.throwIfAborted()
      const list = this.#live(peer)
      let best: PooledSession | undefined
      for (const p of list) if (p.users < this.#blobsPerSession && (!best || p.users < best.users)) best = p
      // Open another session once the ones there are half busy.
      const opening = this.#opening.get(peer)
      const wantMore =
        list.length < this.#sessionsPerPeer && (!best || best.users >= this.#blobsPerSession / 2)
      if (wantMore && opening === undefined) {
        const open = this.#open(peer)
        this.#opening.set(peer, open)
        try {
          const pooled = await open
          pooled.users++
          return pooled
        } finally {
          this.#opening.delete(peer)
        }
      }
      if (best) {
        best.users++
        clearTimeout(best.idleTimer)
        best.idleTimer = undefined
        return best
      }
      if (opening) await opening.catch(() => {})
      else await new Promise<void>((resolve) => this.#waiting(peer).push(resolve))
    }
  }

  async #open(peer: string): Promise<PooledSession> {
    const session = await this.#opener.openSession(peer, { signal: this.#signal })
    const pooled: PooledSession = { session, users: 0, idleTimer: undefined }
    const list = this.#byPeer.get(peer) ?? []
    list.push(pooled)
    this.#byPeer.set(peer, list)
    return pooled
  }

  #release(peer: string, pooled: PooledSession): void {
    pooled.users--
    if (pooled.session.closed) this.#drop(peer, pooled)
    else if (pooled.users === 0) {
      pooled.idleTimer = setTimeout(() => {
        if (pooled.users > 0) return
        this.#drop(peer, pooled)
        void pooled.session.close().catch(() => {})
      }, this.#idleMs)
      pooled.idleTimer.unref()
    }
    this.#waiting(peer).shift()?.()
  }

  /** The peer's sessions that still take calls. */
  #live(peer: string): PooledSession[] {
    const list = (this.#byPeer.get(peer) ?? []).filter((p) => !p.session.closed)
    this.#byPeer.set(peer, list)
    return list
  }

  #drop(peer: string, pooled: PooledSession): void {
    clearTimeout(pooled.idleTimer)
    const list = this.#byPeer.get(peer)
    if (list)
      this.#byPeer.set(
        peer,
        list.filter((p) => p !== pooled),
      )
  }

  #waiting(peer: string): Array<() => void> {
    let list = this.#waiters.get(peer)
    if (!list) {
      list = []
      this.#waiters.set(peer, list)
    }
    return list
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error('aborted', { cause: reason })
}
