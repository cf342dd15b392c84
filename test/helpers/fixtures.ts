import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const FIXTURE_LIBRARY = fileURLToPath(new URL('../fixtures/library', import.meta.url))
export const EXPECTED_FILE = fileURLToPath(new URL('../fixtures/expected.json', import.meta.url))

export interface ExpectedMedia {
  path: string
  mediaType: 'audio' | 'video'
  title: string
  artists: string[]
  album: string | null
  albumArtist: string | null
  trackNo: number | null
  trackTotal: number | null
  discNo: number | null
  discTotal: number | null
  year: number | null
  genres: string[]
  compilation: boolean
  codec: string
  container: string
  hasCover: boolean
  coverSource: 'embedded' | 'folder' | null
  lossless: boolean
  duplicateOf: string | null
  fromPath: boolean
}

export interface Expected {
  media: ExpectedMedia[]
  junk: Array<{ path: string; why: string }>
  skippedSilently: string[]
}

export async function readExpected(): Promise<Expected> {
  return JSON.parse(await fs.readFile(EXPECTED_FILE, 'utf8')) as Expected
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `cloudless-${prefix}-`))
}

/** A private copy of the fixture library (symlinks kept as links), for tests that change files. */
export async function copyFixtureLibrary(): Promise<string> {
  const dir = await tempDir('lib')
  await fs.cp(FIXTURE_LIBRARY, dir, { recursive: true, verbatimSymlinks: true })
  return dir
}
