import type { Manifest } from '../../blobs/index.ts'
import { BlockVerificationError, ManifestVerificationError } from '../protocols/blob/index.ts'
import type { ExchangePort } from './ports.ts'

/** How libp2p and the OS say a device could not be dialled. */
const UNREACHABLE = /dials failed|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|no valid addresses/i

export class NoSourceError extends Error {
  override name = 'NoSourceError'
}

interface PeerStats {
  /** Smoothed MB/s of recent transfers; unknown peers start in the middle. */
  throughput: number
  failures: number
  lastFailureAt: number
}

/**
 * Fetches verified blocks from the devices that hold a blob: the fastest first, the next one when a
 * device fails mid-transfer (a stopped laptop, a changed file), and several at once for a whole-file
 * download. Verification happens in the exchange; this layer only chooses and switches.
 */
export class PeerFetcher {
  readonly #exchange: ExchangePort
  readonly #candidates: (contentId: string) => string[]
  readonly #nameOf: (peer: string) => string | undefined
  readonly #stats = new Map<string, PeerStats>()

  /** `nameOf` gives a device's name (as the user calls it) for error messages. */
  constructor(
    exchange: ExchangePort,
    candidates: (contentId: string) => string[],
    nameOf: (peer: string) => string | undefined = () => undefined,
  ) {
    this.#exchange = exchange
    this.#candidates = candidates
    this.#nameOf = nameOf
  }

  /**
   * What went wrong with `peer` while fetching `contentId`, for a user: the device by name, wrong
   * bytes and unreachable devices said plainly.
   */
  failure(peer: string, error: unknown, contentId: string): string {
    const name = this.#nameOf(peer) || `device …${peer.slice(-8)}`
    if (error instanceof BlockVerificationError) {
      // A session ended by one blob's bad block fails the other blobs it was fetching with it.
      if (error.contentId !== undefined && error.contentId !== contentId)
        return `${name} sent wrong bytes for another file, so its transfers were stopped`
      if (error.index < 0) return `${name}: ${error.message}`
      return `${name} sent bytes that do not match their checksum (block ${error.index}): its copy is damaged, or the device misbehaves`
    }
    if (error instanceof ManifestVerificationError)
      return `${name} sent a block list that does not match the file's content ID`
    // The transport's own words, without the peer ID the exchange puts in front of them.
    const cause = (error as Error).name === 'BlobTransferError' ? ((error as Error).cause ?? error) : error
    const message = cause instanceof Error ? cause.message : String(cause)
    if (UNREACHABLE.test(message)) return `${name} cannot be reached`
    return `${name}: ${message}`
  }

  /** True when `error` is `peer` sending wrong bytes for `contentId` itself (not a session ended by another blob's). */
  static sentWrongBytes(error: unknown, contentId: string): boolean {
    if (error instanceof ManifestVerificationError) return true
    return (
      error instanceof BlockVerificationError &&
      (error.contentId === undefined || error.contentId === contentId)
    )
  }

  /** Candidates best first: recently failed ones last, then by measured throughput. */
  rank(contentId: string): string[] {
    const now = Date.now()
    const score = (peer: string) => {
      const s = this.#stats.get(peer)
      if (s === undefined) return 50
      const penalty = now - s.lastFailureAt < 30_000 ? 1e6 : 0
      return s.throughput - penalty
    }
    return [...this.#candidates(contentId)].sort((a, b) => score(b) - score(a))
  }

  async manifest(contentId: string, signal?: AbortSignal): Promise<Manifest> {
    const errors: string[] = []
    for (const peer of this.rank(contentId)) {
      try {
        return await retryWhenBusy(() => this.#exchange.fetchManifest(peer, contentId, { signal }), signal)
      } catch (error) {
        signal?.throwIfAborted()
        this.#failed(peer)
        errors.push(this.failure(peer, error, contentId))
      }
    }
    throw noSource(errors)
  }

  /**
   * Blocks first..first+count-1 in order, from the best device, switching device on failure and
   * resuming at the first block not yet received.
   */
  async *blocks(
    contentId: string,
    manifest: Manifest,
    first: number,
    count: number,
    signal?: AbortSignal,
  ): AsyncGenerator<{ index: number; bytes: Uint8Array }> {
    let next = first
    const end = first + count
    const errors: string[] = []
    for (const peer of this.rank(contentId)) {
      for (let busy = 0; ; busy++) {
        const started = performance.now()
        let bytes = 0
        try {
          for await (const block of this.#exchange.fetchBlocks(peer, contentId, manifest, next, end - next, {
            signal,
          })) {
            if (block.index !== next) throw new Error(`expected block ${next}, got ${block.index}`)
            bytes += block.bytes.length
            next++
            yield block
          }
          this.#succeeded(peer, bytes, performance.now() - started)
          if (next >= end) return
          break
        } catch (error) {
          signal?.throwIfAborted()
          if ((error as Error).name === 'PeerBusyError' && busy < BUSY_RETRIES) {
            await busyPause(busy, signal)
            continue
          }
          this.#failed(peer)
          errors.push(this.failure(peer, error, contentId))
          break
        }
      }
    }
    throw noSource(errors)
  }

  /**
   * Fetches the given blocks (any order) from all candidate devices at once: each device takes
   * the next run of blocks from a shared queue; a failing device drops out and its run goes back.
   */
  async download(
    contentId: string,
    manifest: Manifest,
    indexes: number[],
    onBlock: (index: number, bytes: Uint8Array) => Promise<void>,
    signal?: AbortSignal,
    runLength = 64,
  ): Promise<void> {
    const queue: Array<{ first: number; count: number }> = toRuns(indexes, runLength)
    const errors: string[] = []
    const worker = async (peer: string) => {
      let busy = 0
      while (queue.length > 0) {
        signal?.throwIfAborted()
        const run = queue.shift()!
        let next = run.first
        const started = performance.now()
        try {
          for await (const block of this.#exchange.fetchBlocks(
            peer,
            contentId,
            manifest,
            run.first,
            run.count,
            { signal },
          )) {
            await onBlock(block.index, block.bytes)
            next = block.index + 1
          }
          this.#succeeded(peer, (next - run.first) * manifest.blockSize, performance.now() - started)
        } catch (error) {
          signal?.throwIfAborted()
          const rest = run.first + run.count - next
          if (rest > 0) queue.unshift({ first: next, count: rest })
          if ((error as Error).name === 'PeerBusyError' && busy < BUSY_RETRIES) {
            await busyPause(busy++, signal)
            continue
          }
          this.#failed(peer)
          errors.push(this.failure(peer, error, contentId))
          return
        }
      }
    }
    const peers = this.rank(contentId)
    await Promise.all(peers.map(worker))
    if (queue.length > 0) throw noSource(errors)
  }

  /** Notes a transfer made elsewhere (a session), for ranking. */
  recordSuccess(peer: string, bytes: number, ms: number): void {
    this.#succeeded(peer, bytes, ms)
  }

  /** Notes a failed transfer made elsewhere: the device goes last for a while. */
  recordFailure(peer: string): void {
    this.#failed(peer)
  }

  #succeeded(peer: string, bytes: number, ms: number): void {
    if (bytes < 64 * 1024 || ms <= 0) return
    const mbps = bytes / 1e6 / (ms / 1000)
    const stats = this.#stats.get(peer) ?? { throughput: mbps, failures: 0, lastFailureAt: 0 }
    stats.throughput = stats.throughput * 0.7 + mbps * 0.3
    stats.failures = 0
    this.#stats.set(peer, stats)
  }

  #failed(peer: string): void {
    const stats = this.#stats.get(peer) ?? { throughput: 50, failures: 0, lastFailureAt: 0 }
    stats.failures++
    stats.lastFailureAt = Date.now()
    this.#stats.set(peer, stats)
  }
}

/** A device answers 'busy' when it serves its limit of transfers: wait a little and ask again. */
const BUSY_RETRIES = 20

export async function busyPause(attempt: number, signal?: AbortSignal): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)))
  signal?.throwIfAborted()
}

async function retryWhenBusy<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt()
    } catch (error) {
      if ((error as Error).name !== 'PeerBusyError' || i >= BUSY_RETRIES) throw error
      await busyPause(i, signal)
    }
  }
}

export function toRuns(indexes: number[], runLength: number): Array<{ first: number; count: number }> {
  const sorted = [...indexes].sort((a, b) => a - b)
  const runs: Array<{ first: number; count: number }> = []
  for (const index of sorted) {
    const last = runs.at(-1)
    if (last !== undefined && last.first + last.count === index && last.count < runLength) last.count++
    else runs.push({ first: index, count: 1 })
  }
  return runs
}

function noSource(errors: string[]): NoSourceError {
  if (errors.length === 0) {
    return new NoSourceError('no device that holds it is online')
  }
  return new NoSourceError(`no device could deliver it: ${errors.join('; ')}`)
}
