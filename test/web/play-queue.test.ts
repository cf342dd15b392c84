import { describe, expect, it } from 'vitest'
import { PlayQueue } from '../../src/web/ui/play-queue.ts'

const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }))
const ids = (list: Array<{ id: string } | undefined>) => list.map((item) => item?.id)

/** A fixed sequence instead of Math.random, so a shuffle is the same every run. */
function sequence(values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

describe('the play queue', () => {
  it('plays on in list order from the chosen item and stops at the end; previous goes back', () => {
    const queue = new PlayQueue<{ id: string }>()
    expect(queue.start(items, 'c')?.id).toBe('c')
    expect(ids([queue.next(), queue.next(), queue.next()])).toEqual(['d', 'e', undefined])
    expect(queue.current?.id).toBe('e')
    expect(ids([queue.previous(), queue.previous()])).toEqual(['d', 'c'])
  })

  it('repeats all (from the start again) or one (the same item when it ended, the next when skipped)', () => {
    const queue = new PlayQueue<{ id: string }>()
    queue.start(items, 'd')
    expect(queue.cycleRepeat()).toBe('all')
    expect(ids([queue.next(), queue.next(), queue.next()])).toEqual(['e', 'a', 'b'])
    expect(queue.cycleRepeat()).toBe('one')
    expect(ids([queue.next(true), queue.next(true), queue.next()])).toEqual(['b', 'b', 'c'])
    expect(queue.cycleRepeat()).toBe('off')
  })

  it('shuffles every item exactly once, the playing one first, and keeps it when shuffle goes off', () => {
    const queue = new PlayQueue<{ id: string }>(sequence([0.9, 0.1, 0.5, 0.3]))
    queue.start(items, 'b')
    queue.setShuffle(true)
    expect(queue.current?.id).toBe('b')
    const played = [queue.current, queue.next(), queue.next(), queue.next(), queue.next()]
    expect(ids(played).sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(queue.next()).toBeUndefined()
    const now = queue.current?.id
    queue.setShuffle(false)
    expect(queue.current?.id).toBe(now)
  })

  it('is empty until started', () => {
    const queue = new PlayQueue<{ id: string }>()
    expect([queue.current, queue.next(), queue.previous()]).toEqual([undefined, undefined, undefined])
  })
})
