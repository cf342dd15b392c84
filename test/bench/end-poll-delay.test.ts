import { expect, it } from 'vitest'
import { END_POLL_MS, endPollDelay } from '../../bench/lib/timing.ts'

// bench:blobs asks both tools whether a mirror has ended; how long it waits between two questions.

it('polls sparsely while the end is far, and closes in on it as it nears', () => {
  // 1 GiB in 200 files at ~50 files/s: 25 done after 0.5 s, the rest due in 3.5 s.
  expect(endPollDelay(500, 25, 200)).toBe(END_POLL_MS.far)
  // 170 done after 3.4 s: the rest due in 0.6 s, asked again in 0.3 s, then closer.
  expect(endPollDelay(3_400, 170, 200)).toBe(300)
  expect(endPollDelay(3_700, 185, 200)).toBe(150)
  // The last 5% or 8 files: every near ms.
  expect(endPollDelay(3_800, 190, 200)).toBe(END_POLL_MS.near)
  expect(endPollDelay(60_000, 9_992, 10_000)).toBe(END_POLL_MS.near)
})

it('never waits less than near or more than far, and polls closely before the first file is done', () => {
  expect(endPollDelay(0, 0, 200)).toBe(4 * END_POLL_MS.near)
  expect(endPollDelay(100, 1, 10_000)).toBe(END_POLL_MS.far)
  expect(endPollDelay(1_000, 100, 105)).toBe(END_POLL_MS.near)
  expect(endPollDelay(1_000, 150, 180)).toBe(100)
  // Clamped to near: the rest due in 90 ms.
  expect(endPollDelay(90, 100, 200)).toBe(END_POLL_MS.near)
  // 8 files left of 100 (92%): near, by the file count alone.
  expect(endPollDelay(10_000, 92, 100)).toBe(END_POLL_MS.near)
  // Whole milliseconds: the rest due in 666.7 ms.
  expect(endPollDelay(1_000, 120, 200)).toBe(333)
})

it('polls sparsely, not in a busy loop, when a count is missing', () => {
  expect(endPollDelay(1_000, Number.NaN, 200)).toBe(END_POLL_MS.far)
  expect(endPollDelay(1_000, 10, Number.NaN)).toBe(END_POLL_MS.far)
  expect(endPollDelay(Number.NaN, 10, 200)).toBe(END_POLL_MS.far)
})
