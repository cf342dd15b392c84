import type { TrackView } from '../../crdt/index.ts'
import { h } from './dom.ts'
import type { Sequence } from './play-queue.ts'
import { FIRST_ROWS_MARK } from './virtual-list.ts'

/**
 * The first screen before the catalog is loaded. A big catalog takes seconds to come out of
 * IndexedDB and be listed (bench:web); meanwhile the page shows what "All tracks" showed last
 * time: its first rows and count, kept in localStorage (a few KB, read synchronously). It is
 * inert and replaced by the real list as soon as that is ready.
 */

const KEY = 'cloudless:first-screen'
const ROWS = 40

interface Snapshot {
  deviceId: string
  total: number
  rows: Array<{ title: string; artists: string; album: string; time: string }>
}

function duration(seconds: number | null): string {
  if (seconds === null) return ''
  const s = Math.round(seconds)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

let lastSaved = ''

/** Keeps the first rows of "All tracks" for the next page load (cheap: only when they changed). */
export function saveFirstScreen(deviceId: string, tracks: Sequence<TrackView>): void {
  const first: TrackView[] = []
  for (let i = 0; i < Math.min(ROWS, tracks.length); i++) {
    const track = tracks.at(i)
    if (track !== undefined) first.push(track)
  }
  const snapshot: Snapshot = {
    deviceId,
    total: tracks.length,
    rows: first.map((t) => ({
      title: t.title,
      artists: t.artists.join(', '),
      album: t.album ?? '',
      time: duration(t.durationSec),
    })),
  }
  const text = JSON.stringify(snapshot)
  if (text === lastSaved) return
  lastSaved = text
  try {
    localStorage.setItem(KEY, text)
  } catch {
    // Storage full or disabled: the next load waits for the catalog, that is all.
  }
}

/** The last first screen, drawn at once; undefined when there is none (never paired). */
export function showFirstScreen(): HTMLElement | undefined {
  let snapshot: Snapshot
  try {
    const text = localStorage.getItem(KEY)
    if (text === null) return undefined
    snapshot = JSON.parse(text) as Snapshot
  } catch {
    return undefined
  }
  const rows = snapshot.rows.map((row, i) =>
    h(
      'div',
      { class: 'row', 'data-testid': 'first-screen-row', style: `top:${i * 44}px` },
      h('span', { class: 'muted' }, String(i + 1)),
      h('span', {}, ''),
      h('span', {}, row.title),
      h('span', {}, row.artists),
      h('span', {}, row.album),
      h('span', { class: 'muted' }, row.time),
      h('span', { class: 'where' }, ''),
      h('span', {}, ''),
    ),
  )
  const element = h(
    'section',
    { class: 'library', 'data-testid': 'first-screen' },
    h(
      'div',
      { class: 'view-head' },
      h('h2', {}, 'All tracks'),
      h('span', { class: 'muted' }, `${snapshot.total} items · opening…`),
    ),
    h('div', { class: 'viewport' }, ...rows),
  )
  requestAnimationFrame(() => performance.mark(FIRST_ROWS_MARK))
  return element
}
