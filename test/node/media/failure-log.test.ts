import { describe, expect, it } from 'vitest'
import { FailureLog } from '../../../src/node/media/failure-log.ts'

describe('FailureLog', () => {
  it('tells a burst of failures grouped by error, a few titles each', () => {
    const lines: string[] = []
    const log = new FailureLog((line) => lines.push(line), 60_000)
    for (let i = 1; i <= 5; i++)
      log.failed(`cid-${i}`, `Track ${i}`, 'no device could deliver it: alpha cannot be reached')
    log.failed('cid-9', 'Odd One', 'no device that holds it is online')
    expect(lines).toEqual([])
    log.flush()
    expect(lines).toEqual([
      'could not fetch 5 tracks ("Track 1", "Track 2", "Track 3" and 2 more): no device could deliver it: ' +
        'alpha cannot be reached; `cloudless cache` lists them, and they are tried again when a device connects',
      'could not fetch "Odd One": no device that holds it is online',
    ])
  })

  it('tells a track again only when its error changes, or after it was fetched', () => {
    const lines: string[] = []
    const log = new FailureLog((line) => lines.push(line), 60_000)
    log.failed('cid-1', 'Track 1', 'alpha cannot be reached')
    log.flush()
    log.failed('cid-1', 'Track 1', 'alpha cannot be reached')
    log.flush()
    expect(lines).toHaveLength(1)
    log.failed('cid-1', 'Track 1', 'gamma cannot be reached')
    log.flush()
    expect(lines).toHaveLength(2)
    log.fetched('cid-1')
    log.failed('cid-1', 'Track 1', 'gamma cannot be reached')
    log.flush()
    expect(lines).toHaveLength(3)
  })

  it('tells a burst by itself once the delay has passed', async () => {
    const lines: string[] = []
    const log = new FailureLog((line) => lines.push(line), 20)
    log.failed('cid-1', 'Track 1', 'alpha cannot be reached')
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(lines).toEqual(['could not fetch "Track 1": alpha cannot be reached'])
  })
})
