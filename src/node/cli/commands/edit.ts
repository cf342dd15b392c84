import type { EditableField, TrackEdits, TrackView } from '../../../crdt/index.ts'
import { editOp } from '../../ops/user-ops.ts'
import type { Command, CommandContext } from '../command.ts'
import { EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { printJson, println } from '../output.ts'

/** CLI names of the editable fields (and the spellings --reset accepts) -> record fields. */
const FIELD_NAMES: Record<string, EditableField> = {
  title: 'title',
  artist: 'artists',
  artists: 'artists',
  album: 'album',
  'album-artist': 'albumArtist',
  albumartist: 'albumArtist',
  track: 'trackNo',
  trackno: 'trackNo',
  disc: 'discNo',
  discno: 'discNo',
  year: 'year',
  genre: 'genres',
  genres: 'genres',
  compilation: 'compilation',
}

export const editCommand: Command = {
  name: 'edit',
  usage: `Usage: cloudless edit <track> [--title T] [--artist A]... [--album X] [--album-artist X]
                      [--track N] [--disc N] [--year N] [--genre G]... [--compilation yes|no]
                      [--reset <field>]... [--reset-all] [--json]

Overrides fields of a track on every device of the library; the files are not changed. Overrides
survive rescans. Two devices editing different fields both keep their change; when both edit the
same field, the later edit wins. <track> is a track id or any unique start of it (4+ characters),
as listed by 'cloudless tracks'.

Options:
  --title <text>          the title
  --artist <name>         an artist; repeat for several (--artist '' for none)
  --album <text>          the album ('' for none)
  --album-artist <name>   the album artist ('' for none)
  --track <n>             the track number ('' for none)
  --disc <n>              the disc number ('' for none)
  --year <n>              the year ('' for none)
  --genre <name>          a genre; repeat for several (--genre '' for none)
  --compilation yes|no    whether the album is a compilation
  --reset <field>         drop the override of a field (title, artist, album, album-artist, track,
                          disc, year, genre, compilation): the value from the file shows again
  --reset-all             drop every override of the track
  --json                  print the track as JSON (with 'edited': the overridden fields)
  --home <dir>            this device's data folder
  -h, --help              show this help

Examples:
  cloudless edit 3f2a --title 'Second Wind' --artist 'Aurora Tide' --artist 'Mira Vale'
  cloudless edit 3f2a --reset title`,
  options: {
    title: { type: 'string' },
    artist: { type: 'string', multiple: true },
    album: { type: 'string' },
    'album-artist': { type: 'string' },
    track: { type: 'string' },
    disc: { type: 'string' },
    year: { type: 'string' },
    genre: { type: 'string', multiple: true },
    compilation: { type: 'string' },
    reset: { type: 'string', multiple: true },
    'reset-all': { type: 'boolean' },
  },
  async run(ctx) {
    const [track, ...extra] = ctx.positionals
    if (track === undefined) throw new UsageError('which track? Give its id (or the start of it)')
    if (extra.length > 0) throw new UsageError(`one track at a time (unexpected: ${extra.join(' ')})`)
    const set = editsFromOptions(ctx)
    const reset = resetFields(ctx)
    const resetAll = ctx.values['reset-all'] === true
    const both = reset.filter((f) => set[f] !== undefined)
    if (both.length > 0) throw new UsageError(`both set and reset: ${both.join(', ')}`)
    if (Object.keys(set).length === 0 && reset.length === 0 && !resetAll)
      throw new UsageError('nothing to change: give a field to set, --reset <field> or --reset-all')
    const view = await runOp(ctx, editOp, { track, set, reset, resetAll })
    if (ctx.json) printJson(ctx, view)
    else printTrackFields(ctx, view)
    return EXIT_OK
  },
}

function editsFromOptions(ctx: CommandContext): TrackEdits {
  const set: TrackEdits = {}
  const text = (name: string) => ctx.values[name] as string | undefined
  const list = (name: string) => ctx.values[name] as string[] | undefined
  const title = text('title')
  if (title !== undefined) {
    if (title.trim() === '') throw new UsageError('--title cannot be empty')
    set.title = title.trim()
  }
  const artists = list('artist')
  if (artists !== undefined) set.artists = nonEmpty(artists)
  const genres = list('genre')
  if (genres !== undefined) set.genres = nonEmpty(genres)
  const album = text('album')
  if (album !== undefined) set.album = album.trim() || null
  const albumArtist = text('album-artist')
  if (albumArtist !== undefined) set.albumArtist = albumArtist.trim() || null
  const trackNo = text('track')
  if (trackNo !== undefined) set.trackNo = wholeNumber('--track', trackNo)
  const discNo = text('disc')
  if (discNo !== undefined) set.discNo = wholeNumber('--disc', discNo)
  const year = text('year')
  if (year !== undefined) set.year = wholeNumber('--year', year)
  const compilation = text('compilation')
  if (compilation !== undefined) set.compilation = yesNo(compilation)
  return set
}

function resetFields(ctx: CommandContext): EditableField[] {
  const names = (ctx.values.reset as string[] | undefined) ?? []
  return names.map((name) => {
    const field = FIELD_NAMES[name.trim().toLowerCase()]
    if (field === undefined)
      throw new UsageError(
        `--reset ${name}: not a field (title, artist, album, album-artist, track, disc, year, genre, compilation)`,
      )
    return field
  })
}

function nonEmpty(values: string[]): string[] {
  return values.map((v) => v.trim()).filter((v) => v !== '')
}

function wholeNumber(option: string, text: string): number | null {
  if (text.trim() === '') return null
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${option} needs a whole number above 0`)
  return n
}

function yesNo(text: string): boolean {
  const t = text.trim().toLowerCase()
  if (['yes', 'true', '1'].includes(t)) return true
  if (['no', 'false', '0'].includes(t)) return false
  throw new UsageError(`--compilation needs yes or no, not '${text}'`)
}

/** One line naming a track: short id, title, artists. */
export function trackLine(t: TrackView): string {
  const artists = t.artists.join(', ')
  return `${t.id.slice(0, 10)}  ${t.title}${artists === '' ? '' : ` - ${artists}`}`
}

function printTrackFields(ctx: CommandContext, t: TrackView): void {
  const edited = new Set(t.edited)
  const row = (label: string, field: EditableField, value: string) =>
    println(ctx, `  ${label.padEnd(13)} ${value}${edited.has(field) ? '  (edited)' : ''}`)
  const none = '-'
  println(ctx, t.id)
  row('title', 'title', t.title)
  row('artists', 'artists', t.artists.join(', ') || none)
  row('album', 'album', t.album ?? none)
  row('album artist', 'albumArtist', t.albumArtist ?? none)
  row('track', 'trackNo', t.trackNo === null ? none : String(t.trackNo))
  row('disc', 'discNo', t.discNo === null ? none : String(t.discNo))
  row('year', 'year', t.year === null ? none : String(t.year))
  row('genres', 'genres', t.genres.join(', ') || none)
  row('compilation', 'compilation', t.compilation ? 'yes' : 'no')
}
