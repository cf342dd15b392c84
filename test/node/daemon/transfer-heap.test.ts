import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  RESTORE_AFTER_MS,
  TRANSFER_HEAP_GROWING_PERCENT,
  TransferHeap,
} from '../../../src/node/daemon/transfer-heap.ts'

function recorder() {
  const calls: string[] = []
  return {
    calls,
    heap: new TransferHeap({
      setGrowingPercent: (percent) => calls.push(`grow ${percent}`),
      collect: () => calls.push('gc'),
    }),
  }
}

describe('TransferHeap', () => {
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
    expect(calls).toEqual([`grow ${TRANSFER_HEAP_GROWING_PERCENT}`, 'grow 0', 'gc'])
    expect(heap.raised).toBe(false)
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
    expect(calls.slice(1)).toEqual(['grow 0', 'gc'])
  })
})
