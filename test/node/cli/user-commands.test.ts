import { promises as fs } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TrackView, UserData } from '../../../src/crdt/index.ts'
import type { Command, CommandContext } from '../../../src/node/cli/command.ts'
import { editCommand } from '../../../src/node/cli/commands/edit.ts'
import { favCommand } from '../../../src/node/cli/commands/fav.ts'
import { playlistsCommand } from '../../../src/node/cli/commands/playlists.ts'
import { rateCommand } from '../../../src/node/cli/commands/rate.ts'
import { tracksCommand } from '../../../src/node/cli/commands/tracks.ts'
import { EXIT_FAILURE, EXIT_USAGE, UsageError } from '../../../src/node/cli/errors.ts'
import { Device } from '../../../src/node/device/device.ts'
import { scan } from '../../../src/node/scanner/scanner.ts'
import { FIXTURE_LIBRARY, tempDir } from '../../helpers/fixtures.ts'

/**
 * The user-data commands end to end on a scanned fixture library, in this process: the commands
 * are run the way src/node/cli/main.ts runs them (parseArgs with the global options, UsageError ->
 * exit 2, any other error -> exit 1), so that this test does not depend on their registration.
 */

const COMMANDS: Command[] = [editCommand, rateCommand, favCommand, playlistsCommand, tracksCommand]

const GLOBAL_OPTIONS = {
  home: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

interface Result {
  code: number
  stdout: string
  stderr: string
}

function sink(): { stream: Writable; text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk
      done()
    },
  })
  return { stream, text: () => text }
}

let home: string

async function cli(args: string[]): Promise<Result> {
  const [name, ...rest] = args
  const command = COMMANDS.find((c) => c.name === name)!
  const out = sink()
  const err = sink()
  const result = (code: number) => ({ code, stdout: out.text(), stderr: err.text() })
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    })
  } catch (error) {
    err.stream.write((error as Error).message)
    return result(EXIT_USAGE)
  }
  if (parsed.values.help) {
    out.stream.write(`${command.usage}\n`)
    return result(0)
  }
  const ctx: CommandContext = {
    home,
    json: parsed.values.json === true,
    values: parsed.values,
    positionals: parsed.positionals,
    signal: new AbortController().signal,
    stdout: out.stream,
    stderr: err.stream,
  }
  try {
    return result(await command.run(ctx))
  } catch (error) {
    err.stream.write(`cloudless ${name}: ${(error as Error).message}\n`)
    return result(error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE)
  }
}

async function json<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json'])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as T
}

let tracks: TrackView[]
const byTitle = (title: string) => tracks.find((t) => t.title === title)!

beforeAll(async () => {
  home = await tempDir('user-cli')
  const device = await Device.open(home)
  try {
    await scan(device, [FIXTURE_LIBRARY])
    // Two tracks whose ids share a prefix, to see an ambiguous prefix refused.
    const sample = device.catalog.trackEntries().next().value![1]
    for (const id of ['zzzz2aaaaaaa', 'zzzz2bbbbbbb']) {
      device.catalog.putFile(device.deviceId, path.join(FIXTURE_LIBRARY, `${id}.mp3`), id, {
        ...sample,
        contentId: id,
        title: `Twin ${id.slice(5, 6)}`,
      })
    }
    UserData.of(device.catalog).recordPlay(sample.contentId, device.deviceId)
  } finally {
    await device.close()
  }
  tracks = await json<TrackView[]>(['tracks'])
})
afterAll(() => fs.rm(home, { recursive: true, force: true }))

describe('cloudless edit', () => {
  it('overrides fields by a short id prefix, shows them in tracks, and resets them', async () => {
    const track = byTitle('First Light')
    const prefix = track.id.slice(0, 6)
    const edited = await json<TrackView>([
      'edit',
      prefix,
      '--title',
      'First Light (Remastered)',
      '--artist',
      'Aurora Tide',
      '--artist',
      'Guest',
      '--year',
      '1999',
      '--album',
      '',
    ])
    expect(edited).toMatchObject({
      id: track.id,
      title: 'First Light (Remastered)',
      artists: ['Aurora Tide', 'Guest'],
      year: 1999,
      album: null,
      genres: track.genres,
      edited: ['title', 'artists', 'album', 'year'],
    })
    const listed = (await json<TrackView[]>(['tracks'])).find((t) => t.id === track.id)!
    expect(listed).toMatchObject({ title: 'First Light (Remastered)', year: 1999, album: null })

    const text = await cli(['edit', prefix, '--reset', 'title', '--reset', 'album'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/title\s+First Light\n/)
    expect(text.stdout).toMatch(/year\s+1999 {2}\(edited\)/)
    const reset = await json<TrackView>(['edit', prefix, '--reset-all'])
    expect(reset).toMatchObject({ title: track.title, album: track.album, year: track.year, edited: [] })
  })

  it('answers usage mistakes with exit code 2', async () => {
    const id = byTitle('Second Wind').id
    for (const args of [
      ['edit'],
      ['edit', id],
      ['edit', id, '--year', 'soon'],
      ['edit', id, '--title', ''],
      ['edit', id, '--reset', 'colour'],
      ['edit', id, '--title', 'X', '--reset', 'title'],
      ['edit', id, '--compilation', 'maybe'],
      ['edit', id, '--colour', 'red'],
    ]) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(EXIT_USAGE)
    }
  })

  it('refuses unknown, too short and ambiguous ids with exit code 1', async () => {
    const unknown = await cli(['edit', 'qqqqqq', '--title', 'X'])
    expect(unknown.code).toBe(EXIT_FAILURE)
    expect(unknown.stderr).toMatch(/no track id starts with 'qqqqqq'/)
    const short = await cli(['rate', 'zzz', '3'])
    expect(short.code).toBe(EXIT_FAILURE)
    expect(short.stderr).toMatch(/at least 4 characters/)
    const ambiguous = await cli(['fav', 'zzzz2'])
    expect(ambiguous.code).toBe(EXIT_FAILURE)
    expect(ambiguous.stderr).toMatch(/'zzzz2' matches 2 tracks/)
    expect(ambiguous.stderr).toMatch(/zzzz2aaaaaaa {2}Twin a/)
    expect(ambiguous.stderr).toMatch(/zzzz2bbbbbbb {2}Twin b/)
    expect((await json<TrackView>(['fav', 'zzzz2a'])).favourite).toBe(true)
  })
})

describe('cloudless rate and fav', () => {
  it('rates, removes a rating, and refuses ratings out of range', async () => {
    const id = byTitle('Solar Wind').id
    expect((await json<TrackView>(['rate', id, '4'])).rating).toBe(4)
    const text = await cli(['rate', id.slice(0, 8), '5'])
    expect(text.stdout).toMatch(/^★★★★★ {2}\w{10} {2}Solar Wind/)
    expect((await json<TrackView>(['rate', id, '0'])).rating).toBeNull()
    expect((await cli(['rate', id, '6'])).code).toBe(EXIT_USAGE)
    expect((await cli(['rate', id, '2.5'])).code).toBe(EXIT_USAGE)
    expect((await cli(['rate', id])).code).toBe(EXIT_USAGE)
  })

  it('toggles a favourite, or sets it with --on and --off', async () => {
    const id = byTitle('Ragtime Ramble').id
    expect((await json<TrackView>(['fav', id])).favourite).toBe(true)
    expect((await json<TrackView>(['fav', id])).favourite).toBe(false)
    expect((await json<TrackView>(['fav', id, '--on'])).favourite).toBe(true)
    expect((await json<TrackView>(['fav', id, '--on'])).favourite).toBe(true)
    expect((await cli(['fav', id])).stdout).toMatch(/not a favourite/)
    expect((await json<TrackView>(['fav', id, '--off'])).favourite).toBe(false)
    expect((await cli(['fav', id, '--on', '--off'])).code).toBe(EXIT_USAGE)
    expect((await cli(['fav'])).code).toBe(EXIT_USAGE)
  })

  it('lists ratings, favourites, play counts and edited fields with the tracks', async () => {
    const id = byTitle('Solar Wind').id
    await cli(['rate', id, '3'])
    await cli(['fav', id, '--on'])
    const listed = await json<TrackView[]>(['tracks'])
    expect(listed.find((t) => t.id === id)).toMatchObject({ rating: 3, favourite: true, edited: [] })
    expect(listed.reduce((sum, t) => sum + t.plays, 0)).toBe(1)
    for (const t of listed) expect(t).toHaveProperty('plays')
  })
})

describe('cloudless playlists', () => {
  interface Detail {
    id: string
    name: string
    trackCount: number
    items: Array<{ position: number; trackId: string; track: TrackView | null }>
  }
  const order = async (playlist: string) =>
    (await json<Detail>(['playlists', 'show', playlist])).items.map((i) => i.track!.title)

  it('creates, fills, reorders, trims, renames, lists and deletes a playlist', async () => {
    expect((await cli(['playlists'])).stdout).toMatch(/No playlists yet/)
    const created = await json<{ id: string; name: string }>(['playlists', 'create', 'Road', 'trip'])
    expect(created).toMatchObject({ name: 'Road trip', trackCount: 0 })
    expect(created.id).toMatch(/^[0-9a-f]{16}$/)

    const [a, b, c] = ['First Light', 'Second Wind', 'Solar Wind'].map((t) => byTitle(t).id.slice(0, 8))
    const added = await json<{ trackCount: number }>(['playlists', 'add', 'Road trip', a!, b!])
    expect(added.trackCount).toBe(2)
    const text = await cli(['playlists', 'add', created.id.slice(0, 5), c!, a!, '--at', '1'])
    expect(text.stdout).toBe("Added 2 tracks to 'Road trip': 4 tracks now\n")
    expect(await order('road trip')).toEqual(['Solar Wind', 'First Light', 'First Light', 'Second Wind'])

    await json(['playlists', 'move', 'Road trip', '4', '1'])
    expect(await order('Road trip')).toEqual(['Second Wind', 'Solar Wind', 'First Light', 'First Light'])

    const removed = await json<{ removed: number; trackCount: number }>([
      'playlists',
      'remove',
      'Road trip',
      a!,
      '#1',
    ])
    expect(removed).toMatchObject({ removed: 3, trackCount: 1 })
    expect(await order('Road trip')).toEqual(['Solar Wind'])

    await json(['playlists', 'rename', 'Road trip', 'Long', 'drive'])
    const list = await json<Array<{ id: string; name: string; trackCount: number }>>(['playlists'])
    expect(list).toEqual([expect.objectContaining({ id: created.id, name: 'Long drive', trackCount: 1 })])
    const shown = await cli(['playlists', 'show', 'Long drive'])
    expect(shown.stdout).toMatch(/^Long drive {2}\([0-9a-f]{16}, 1 track, 0:0\d\)\n {2}1 {2}\w{10} {2}/)

    const deleted = await cli(['playlists', 'delete', 'Long drive'])
    expect(deleted.stdout).toMatch(/^Deleted playlist 'Long drive'/)
    expect(await json(['playlists'])).toEqual([])
  })

  it('refuses unknown playlists, duplicate names and bad positions with exit code 1', async () => {
    await json(['playlists', 'create', 'Chill'])
    const duplicate = await cli(['playlists', 'create', 'chill'])
    expect(duplicate.code).toBe(EXIT_FAILURE)
    expect(duplicate.stderr).toMatch(/already a playlist called 'Chill'/)
    const unknown = await cli(['playlists', 'show', 'Nope'])
    expect(unknown.code).toBe(EXIT_FAILURE)
    expect(unknown.stderr).toMatch(/no playlist is called 'Nope'/)
    expect((await cli(['playlists', 'show', 'Mix'])).stderr).toMatch(/no playlist is called 'Mix'/)
    const track = byTitle('Second Wind').id
    expect((await cli(['playlists', 'add', 'Chill', track, '--at', '3'])).stderr).toMatch(
      /no position 3: positions go from 1 to 1/,
    )
    await json(['playlists', 'add', 'Chill', track])
    const out = await cli(['playlists', 'move', 'Chill', '1', '2'])
    expect(out.code).toBe(EXIT_FAILURE)
    expect(out.stderr).toMatch(/no position 2/)
    expect((await cli(['playlists', 'remove', 'Chill', 'qqqqqq'])).stderr).toMatch(
      /no track id starts with 'qqqqqq'/,
    )
    expect((await cli(['playlists', 'add', 'Chill', 'qqqqqq'])).code).toBe(EXIT_FAILURE)
    await json(['playlists', 'delete', 'Chill'])
  })

  it('answers usage mistakes with exit code 2', async () => {
    for (const args of [
      ['playlists', 'shuffle'],
      ['playlists', 'create'],
      ['playlists', 'add', 'X'],
      ['playlists', 'show', 'X', '--at', '2'],
      ['playlists', 'show'],
      ['playlists', 'move', 'X', '1'],
      ['playlists', 'move', 'X', 'one', '2'],
      ['playlists', 'remove', 'X', '#0'],
      ['playlists', 'add', 'X', 'abcd', '--at', 'end'],
    ]) {
      expect((await cli(args)).code, args.join(' ')).toBe(EXIT_USAGE)
    }
  })

  it('answers --help for every command', async () => {
    for (const command of ['edit', 'rate', 'fav', 'playlists']) {
      const help = await cli([command, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^Usage: cloudless ${command}`))
    }
  })
})
