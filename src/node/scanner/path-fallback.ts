import path from 'node:path'

/**
 * What a file's place in the library says about it when its tags do not:
 * `<root>/Artist/Album/NN Title.ext`, `<root>/Artist/Album/D-NN - Title.ext`, `<root>/Artist - Title.ext`.
 */
export interface PathGuess {
  title: string
  artist: string | null
  album: string | null
  trackNo: number | null
  discNo: number | null
}

const NUMBERED = /^(?:(\d{1,2})[-.])?(\d{1,3})(?:\s*[-._)]\s*|\s+)(.+)$/

export function guessFromPath(filePath: string, root: string): PathGuess {
  const relative = path.relative(root, filePath)
  const parts = relative.split(path.sep).map((p) => p.normalize('NFC'))
  const base = path
    .basename(parts.at(-1)!, path.extname(parts.at(-1)!))
    .replace(/_/g, ' ')
    .trim()
  const dirs = parts.slice(0, -1)
  let album = dirs.at(-1) ?? null
  let artist = dirs.at(-2) ?? null
  let title = base
  let trackNo: number | null = null
  let discNo: number | null = null

  const numbered = NUMBERED.exec(base)
  if (numbered !== null) {
    discNo = numbered[1] === undefined ? null : Number(numbered[1])
    trackNo = Number(numbered[2])
    title = numbered[3]!.trim()
  }
  // "Artist - Title" in the file name, when no folder names the artist.
  const dash = title.indexOf(' - ')
  if (dash > 0 && artist === null) {
    artist = title.slice(0, dash).trim()
    title = title.slice(dash + 3).trim()
  }
  // A lone folder under the root is as likely an artist as an album; "Disc 1"/"CD2" folders are neither.
  if (album !== null && /^(cd|disc|disk)\s*\d+$/i.test(album)) {
    discNo ??= Number(album.replace(/\D/g, ''))
    album = dirs.at(-2) ?? null
    artist = dirs.at(-3) ?? null
  }
  return { title: title || base, artist, album, trackNo, discNo }
}
