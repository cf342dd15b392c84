import type { AbortOptions } from '@libp2p/interface'
import {
  FAILURE_BASE_DELAY_MS,
  FAILURE_MAX_DELAY_MS,
  FAILURE_MEMORY_MS,
  MAX_WAITING_ATTEMPTS,
} from './constants.ts'

export class ThrottleBusyError extends Error {
  override name = 'ThrottleBusyError'
}

export interface FailureThrottleInit {
  /** Delay after a first failure; each further failure doubles it (default 500 ms). */
  baseDelayMs?: number
  maxDelayMs?: number
  /** Failures older than this are forgotten (default 15 min). */
  memoryMs?: number
  /** Attempts allowed to wait for their turn; more are refused at once (default 8). */
  maxWaiting?: number
  /** Failures from all peers that double the global delay (default 4). */
  globalDoublingFailures?: number
  now?: () => number
}

export interface AttemptOutcome<T> {
  result: T
  /** Whether this attempt counts as a failure (a wrong or unknown invite, a malformed request). */
  failed: boolean
}

/** The most failure timestamps remembered across all peers. */
const MAX_REMEMBERED_FAILURES = 1024

/**
 * Slows down guessing. Attempts are checked one at a time; after a failure
 *   - that peer waits base·2^(n-1) (n = its recent failures) before its reply and its next attempt;
 *   - everyone waits base·2^((N-1)/k) (N = recent failures from all peers), since fresh peer ids
 *     cost an attacker nothing;
 * both capped at maxDelayMs. A success forgets that peer's failures, not the global ones.
 */
export class FailureThrottle {
  readonly #baseDelayMs: number
  readonly #maxDelayMs: number
  readonly #memoryMs: number
  readonly #maxWaiting: number
  readonly #globalDoubling: number
  readonly #now: () => number
  readonly #peerFailures = new Map<string, number[]>()
  #globalFailures: number[] = []
  #globalGate = 0
  readonly #peerGates = new Map<string, number>()
  #turn: Promise<void> = Promise.resolve()
  #waiting = 0

  constructor(init: FailureThrottleInit = {}) {
    this.#baseDelayMs = init.baseDelayMs ?? FAILURE_BASE_DELAY_MS
    this.#maxDelayMs = init.maxDelayMs ?? FAILURE_MAX_DELAY_MS
    this.#memoryMs = init.memoryMs ?? FAILURE_MEMORY_MS
    this.#maxWaiting = init.maxWaiting ?? MAX_WAITING_ATTEMPTS
    this.#globalDoubling = init.globalDoublingFailures ?? 4
    this.#now = init.now ?? Date.now
  }

  /**
   * Runs `attempt` for `peer` when its turn comes; if it failed, waits the penalty before
   * returning its result. Throws ThrottleBusyError when too many attempts wait already, or the
   * signal's reason.
   */
  async run<T>(
    peer: string,
    attempt: () => Promise<AttemptOutcome<T>>,
    options: AbortOptions = {},
  ): Promise<T> {
    const { signal } = options
    signal?.throwIfAborted()
    if (this.#waiting >= this.#maxWaiting)
      throw new ThrottleBusyError('too many pairing attempts are waiting')
    this.#waiting++
    let penalty = 0
    let outcome: AttemptOutcome<T>
    try {
      // Wait out this peer's own penalty without holding up other peers.
      await sleepUntil(this.#peerGates.get(peer) ?? 0, this.#now, signal)
      const release = await this.#takeTurn(signal)
      try {
        // The global gate (and the peer's, should a parallel attempt of its own have failed meanwhile).
        await sleepUntil(Math.max(this.#globalGate, this.#peerGates.get(peer) ?? 0), this.#now, signal)
        outcome = await attempt()
        if (outcome.failed) penalty = this.#recordFailure(peer)
        else this.#peerFailures.delete(peer)
      } finally {
        release()
      }
    } finally {
      this.#waiting--
    }
    if (penalty > 0) await sleepUntil(this.#now() + penalty, this.#now, signal)
    return outcome.result
  }

  /** The delay a failure by `peer` would cost now (for logs and tests). */
  penaltyFor(peer: string): number {
    const now = this.#now()
    return this.#penalty(
      this.#recent(this.#peerFailures.get(peer) ?? [], now).length + 1,
      this.#recent(this.#globalFailures, now).length + 1,
    )
  }

  #recordFailure(peer: string): number {
    const now = this.#now()
    const peerFailures = [...this.#recent(this.#peerFailures.get(peer) ?? [], now), now]
    this.#peerFailures.set(peer, peerFailures)
    this.#globalFailures = [...this.#recent(this.#globalFailures, now), now].slice(-MAX_REMEMBERED_FAILURES)
    const peerDelay = this.#delay(peerFailures.length, 1)
    const globalDelay = this.#delay(this.#globalFailures.length, this.#globalDoubling)
    this.#peerGates.set(peer, now + Math.max(peerDelay, globalDelay))
    this.#globalGate = now + globalDelay
    this.#forgetOld(now)
    return Math.max(peerDelay, globalDelay)
  }

  #penalty(peerCount: number, globalCount: number): number {
    return Math.max(this.#delay(peerCount, 1), this.#delay(globalCount, this.#globalDoubling))
  }

  #delay(failures: number, doublingEvery: number): number {
    if (failures <= 0) return 0
    return Math.min(this.#baseDelayMs * 2 ** ((failures - 1) / doublingEvery), this.#maxDelayMs)
  }

  #recent(times: number[], now: number): number[] {
    return times.filter((time) => now - time < this.#memoryMs)
  }

  #forgetOld(now: number): void {
    for (const [peer, times] of this.#peerFailures) {
      const recent = this.#recent(times, now)
      if (recent.length === 0) this.#peerFailures.delete(peer)
      else this.#peerFailures.set(peer, recent)
    }
    for (const [peer, gate] of this.#peerGates) if (gate <= now) this.#peerGates.delete(peer)
  }

  async #takeTurn(signal: AbortSignal | undefined): Promise<() => void> {
    const previous = this.#turn
    let release: () => void = () => {}
    this.#turn = new Promise<void>((resolve) => {
      release = resolve
    })
    try {
      await raceAbort(previous, signal)
    } catch (err) {
      // Keep the chain intact: our successor may run once our predecessor is done.
      void previous.then(release)
      throw err
    }
    return release
  }
}

async function sleepUntil(time: number, now: () => number, signal: AbortSignal | undefined): Promise<void> {
  const delay = time - now()
  if (delay <= 0) return
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, delay)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

async function raceAbort(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
