import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  growingPercentFor,
  MAX_GROWING_PERCENT,
  MIN_GROWING_PERCENT,
  REST_GROWING_PERCENT,
  RESTORE_AFTER_MS,
  TRANSFER_HEADROOM_BYTES,
  TransferHeap,
} from '../../../src/node/daemon/transfer-heap.ts'

const MB = 1024 * 1024
const USED = 32 * MB
const TRANSFER_HEAP_GROWING_PERCENT = growingPercentFor(USED)

function recorder() {
  const calls: string[] = []
  return {
    calls,
    heap: new TransferHeap({
      usedHeap: () => USED,
      setGrowingPercent: (percent) => calls.push(`grow ${percent}`),
      collect: () => calls.push('gc'),
    }),
  }
}

describe('TransferHeap', () => {
  it('gives about the same headroom above small and large heaps, within bounds', () => {
    expect(growingPercentFor(TRANSFER_HEADROOM_BYTES)).toBe(100)
    expect(growingPercentFor(32 * MB)).toBe(MAX_GROWING_PERCENT)
    expect(growingPercentFor(192 * MB)).toBe(50)
    expect(growingPercentFor(2048 * MB)).toBe(MIN_GROWING_PERCENT)
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('raises the growing factor for the first stream and restores it once the last has been closed a while', () => {
    vi.useFakeTimers()
    const { calls, heap } = recorder()
    const a = heap.begin()
    const b = heap.begin()
    expect(calls).toEqual([`grow ${TRANSFER_HEAP_GROWING_PERCENT}`])
    a()
    a() // a second call of the same release counts nothing
    expect(heap.open).toBe(1)
    vi.advanceTimersByTime(RESTORE_AFTER_MS * 2)
    expect(calls).toHaveLength(1)
    b()
    vi.advanceTimersByTime(RESTORE_AFTER_MS - 1)
    expect(heap.raised).toBe(true)
    vi.advanceTimersByTime(1)
    expect(calls).toEqual([`grow ${TRANSFER_HEAP_GROWING_PERCENT}`, `grow ${REST_GROWING_PERCENT}`, 'gc'])
    expect(heap.raised).toBe(false)
  })

  it('sets the rest value at start, unless a transfer raised it (open, or closed within the grace period)', () => {
    vi.useFakeTimers()
    const { calls, heap } = recorder()
    heap.atRest()
    expect(calls).toEqual([`grow ${REST_GROWING_PERCENT}`])
    const end = heap.begin()
    heap.atRest()
    end()
    heap.atRest() // closed, but the raise lasts RESTORE_AFTER_MS more
    expect(calls).toEqual([`grow ${REST_GROWING_PERCENT}`, `grow ${TRANSFER_HEAP_GROWING_PERCENT}`])
    vi.advanceTimersByTime(RESTORE_AFTER_MS)
    expect(calls.slice(2)).toEqual([`grow ${REST_GROWING_PERCENT}`, 'gc'])
  })

  it('never lowers the growing factor below the rest value for a transfer on a large heap', () => {
    const calls: string[] = []
    const heap = new TransferHeap({
      usedHeap: () => 400 * MB,
      setGrowingPercent: (percent) => calls.push(`grow ${percent}`),
      collect: () => {},
    })
    heap.begin()
    expect(growingPercentFor(400 * MB)).toBeLessThan(REST_GROWING_PERCENT)
    expect(calls).toEqual([`grow ${REST_GROWING_PERCENT}`])
  })

  it('keeps the raised factor across a short pause between streams', () => {
    vi.useFakeTimers()
    const { calls, heap } = recorder()
    heap.begin()()
    vi.advanceTimersByTime(RESTORE_AFTER_MS / 2)
    const next = heap.begin()
    vi.advanceTimersByTime(RESTORE_AFTER_MS * 2)
    expect(calls).toEqual([`grow ${TRANSFER_HEAP_GROWING_PERCENT}`])
    next()
    vi.advanceTimersByTime(RESTORE_AFTER_MS)
    expect(calls.slice(1)).toEqual([`grow ${REST_GROWING_PERCENT}`, 'gc'])
  })
})
