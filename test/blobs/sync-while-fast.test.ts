import { describe, expect, it } from 'vitest'
import { SyncWhileFast } from '../../src/blobs/index.ts'

/** A clock the test moves: each synchronous call "takes" `callMs`. */
function clocked(options: { slowMs?: number; stallMs?: number; backOffMs?: number } = {}) {
  const clock = { now: 0, callMs: 0 }
  const io = new SyncWhileFast({ ...options, now: () => clock.now })
  const call = () =>
    io.run(
      () => {
        clock.now += clock.callMs
        return 'sync'
      },
      async () => 'async',
    )
  return { clock, io, call }
}

describe('SyncWhileFast', () => {
  it('runs fast operations synchronously, returning their result itself', () => {
    const { clock, io, call } = clocked()
    clock.callMs = 0.03
    for (let i = 0; i < 1000; i++) expect(call()).toBe('sync')
    expect(io.backOffs).toBe(0)
  })

  it('goes to the thread pool once calls are slow on average, and tries again after the back-off', async () => {
    const { clock, io, call } = clocked({ slowMs: 2, backOffMs: 5000 })
    clock.callMs = 5 // a disk's seeks
    let synchronous = 0
    while (call() === 'sync') synchronous++
    // The average passes 2 ms after a few slow calls, not after the first.
    expect(synchronous).toBeGreaterThan(1)
    expect(synchronous).toBeLessThan(10)
    expect(io.backOffs).toBe(1)
    await expect(call()).resolves.toBe('async')
    clock.now += 4999
    expect(io.synchronous).toBe(false)
    clock.now += 1
    clock.callMs = 0.03
    expect(call()).toBe('sync')
  })

  it('lets a single outlier pass, but not a stall', () => {
    const { clock, io, call } = clocked({ slowMs: 2, stallMs: 50 })
    clock.callMs = 0.03
    call()
    clock.callMs = 4 // descheduled in the middle of a read
    call()
    clock.callMs = 0.03
    expect(call()).toBe('sync')
    expect(io.backOffs).toBe(0)
    clock.callMs = 60
    call()
    expect(io.backOffs).toBe(1)
    expect(io.synchronous).toBe(false)
  })

  it('throws a synchronous error as it is, with its code', () => {
    const io = new SyncWhileFast()
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })
    expect(() =>
      io.run(
        () => {
          throw enoent
        },
        async () => 'async',
      ),
    ).toThrow(enoent)
  })
})
