/**
 * The away benchmark (issue 6): a home track streamed by the hotel device over the relay, over the
 * hole-punched (WebRTC) path, and over the home LAN, in the same run, on the NAT test bed.
 *
 *   npm run bench:away -- [--tracks-per-path 3] [--seconds 60] [--json]
 *
 * Needs root, network namespaces, nftables and coturn (scripts/netns/check.sh). Uses its own
 * namespaces (clbench-*), so it can run beside the tests. Steps: home (cone NAT) holds the tracks
 * and uses the relay; the laptop is paired at home, then started in the hotel behind a symmetric
 * NAT (stays relayed): measure. The hotel's NAT turns cone and the laptop restarts: it goes direct
 * (hole punched): measure. The laptop comes home (LAN): measure. Each track streams once (uncached),
 * every byte checked against the file's SHA-256. Writes .bench/away-results.json.
 */
import { mkdir } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { bedAvailability, pollFor, setBedPrefix, setNat } from '../test/nat/bed.ts'
import { type Away, type DeviceRow, setUpAway } from '../test/nat/scenario.ts'
import { measurePath, type PathFigures } from './lib/away-measure.ts'
import { type AwayResults, formatAwayReport } from './lib/away-report.ts'
import { onCleanup } from './lib/cleanup.ts'
import { describeMachine, machineFacts } from './lib/machine.ts'
import { publishResults, runBench } from './lib/run.ts'

const { values } = parseArgs({
  options: {
    'tracks-per-path': { type: 'string', default: '3' },
    seconds: { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
  },
})
const perPath = Number(values['tracks-per-path'])
const seconds = Number(values.seconds)
let away: Away | undefined

await runBench(
  'away',
  async () => {
    setBedPrefix('clbench')
    const available = await bedAvailability()
    if (!available.ok) throw new Error(`the NAT test bed cannot run here: ${available.reason}`)
    away = await setUpAway(
      { home: 'cone', hotel: 'symmetric' },
      { trackSeconds: seconds, trackCount: perPath * 3 },
    )
    onCleanup(async () => {
      await away?.stop()
    })
    const a = away
    const batch = (i: number) => a.tracks.slice(i * perPath, (i + 1) * perPath)
    const reach = (want: string) => async () => {
      const rows = await laptop.cliJson<DeviceRow[]>(['devices'])
      return rows.find((r) => r.id === a.home.peerId)?.connection?.reach === want ? true : undefined
    }
    let laptop = a.laptop
    const paths: PathFigures[] = []

    await pollFor('home through the relay', reach('relayed'), 180_000)
    paths.push(await measurePath(a, laptop, 'relayed', batch(0)))

    await laptop.stop()
    await setNat('hotel', 'cone')
    laptop = laptop.moveTo('hotel')
    a.adopt(laptop)
    await laptop.start(['start', '--no-mdns'])
    await pollFor('a hole-punched connection to home', reach('direct'), 300_000)
    paths.push(await measurePath(a, laptop, 'hole punched', batch(1)))

    await laptop.stop()
    laptop = laptop.moveTo('home')
    a.adopt(laptop)
    await laptop.start(['start', '--no-mdns'])
    await pollFor('home on the LAN', reach('lan'), 180_000)
    paths.push(await measurePath(a, laptop, 'lan', batch(2)))

    const machine = describeMachine(await machineFacts())
    const results: AwayResults = {
      date: new Date().toISOString().slice(0, 10),
      machine,
      trackBytes: a.tracks[0]!.bytes,
      paths,
      checks: [],
    }
    await mkdir('.bench', { recursive: true })
    await publishResults('.bench/away-results.json', results, formatAwayReport, values.json === true)
  },
  async () => {
    for (const p of [away?.home, away?.laptop, away?.relay])
      if (p) process.stderr.write(`--- ${p.name}\n${p.logTail(40)}\n`)
  },
)
