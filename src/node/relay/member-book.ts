import { promises as fs } from 'node:fs'
import { writeFileAtomic } from '../../blobs/index.ts'
import { RelayStateFileError } from './errors.ts'

/** What a device tells its relay: the device ids of its library, and those removed from it. */
export interface MembersMessage {
  libraryId: string
  members: string[]
  revoked: string[]
}

interface LibraryEntry {
  members: Set<string>
  /** Grow-only: a removed device is never let back by an older list that still names it. */
  revoked: Set<string>
  updatedAt: number
}

interface SavedState {
  allow: string[]
  libraries: Record<string, { members: string[]; revoked: string[]; updatedAt: number }>
}

/**
 * Who a relay serves: the devices of the libraries it was introduced to. The relay is not a device
 * of the library (it holds no catalog and can read nothing): the devices keep it informed.
 *
 * - The person who runs the relay names one device of their library once (`--allow <device id>`).
 * - That device, and from then on any device the relay knows as a member of that library, sends
 *   the library's current device list whenever it connects or the list changes.
 * - A list is accepted only from a current member of that library (or an allowed device, for a
 *   library the relay does not know yet). Removed devices stay removed.
 * Kept in `<relay home>/relay.json`, so a restarted relay serves the same devices at once.
 */
export class MemberBook {
  readonly #file: string
  readonly #allow: Set<string>
  readonly #libraries = new Map<string, LibraryEntry>()

  private constructor(file: string, allow: Iterable<string>) {
    this.#file = file
    this.#allow = new Set(allow)
  }

  static async open(file: string, allow: string[] = []): Promise<MemberBook> {
    let saved: SavedState = { allow: [], libraries: {} }
    try {
      saved = JSON.parse(await fs.readFile(file, 'utf8')) as SavedState
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      if (e.code !== 'ENOENT') throw new RelayStateFileError(`cannot read ${file}: ${e.message}`)
    }
    const book = new MemberBook(file, [...(saved.allow ?? []), ...allow])
    for (const [id, entry] of Object.entries(saved.libraries ?? {})) {
      book.#libraries.set(id, {
        members: new Set(entry.members),
        revoked: new Set(entry.revoked),
        updatedAt: entry.updatedAt,
      })
    }
    if (allow.length > 0) await book.#save()
    return book
  }

  /** May this peer connect at all: a member of a library served, or an allowed device. */
  isKnown(peerId: string): boolean {
    return this.#allow.has(peerId) || this.isMember(peerId)
  }

  /** A current member of some library served: may hold a reservation. */
  isMember(peerId: string): boolean {
    for (const entry of this.#libraries.values()) {
      if (entry.members.has(peerId) && !entry.revoked.has(peerId)) return true
    }
    return false
  }

  /** May `from` reach `to` through the relay: both in one library. */
  sameLibrary(from: string, to: string): boolean {
    for (const entry of this.#libraries.values()) {
      if (
        entry.members.has(from) &&
        entry.members.has(to) &&
        !entry.revoked.has(from) &&
        !entry.revoked.has(to)
      )
        return true
    }
    return false
  }

  /** Applies a device list sent by `from`; returns false (and changes nothing) when `from` may not. */
  async accept(from: string, message: MembersMessage): Promise<boolean> {
    const known = this.#libraries.get(message.libraryId)
    const mayWrite =
      known === undefined ? this.#allow.has(from) : known.members.has(from) && !known.revoked.has(from)
    if (!mayWrite) return false
    const revoked = new Set([...(known?.revoked ?? []), ...message.revoked])
    const members = new Set(message.members.filter((id) => !revoked.has(id)))
    this.#libraries.set(message.libraryId, { members, revoked, updatedAt: Date.now() })
    await this.#save()
    return true
  }

  /** For `cloudless relay --json` and logs: libraries served and how many devices each. */
  summary(): Array<{ libraryId: string; devices: number }> {
    return [...this.#libraries].map(([libraryId, entry]) => ({ libraryId, devices: entry.members.size }))
  }

  async #save(): Promise<void> {
    const state: SavedState = { allow: [...this.#allow], libraries: {} }
    for (const [id, entry] of this.#libraries) {
      state.libraries[id] = {
        members: [...entry.members],
        revoked: [...entry.revoked],
        updatedAt: entry.updatedAt,
      }
    }
    await writeFileAtomic(this.#file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  }
}

/** Parses a members message; undefined when it is not one. */
export function parseMembersMessage(bytes: Uint8Array): MembersMessage | undefined {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
  const m = value as MembersMessage
  const isIds = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'string')
  if (
    typeof m !== 'object' ||
    m === null ||
    typeof m.libraryId !== 'string' ||
    !isIds(m.members) ||
    !isIds(m.revoked)
  )
    return undefined
  return { libraryId: m.libraryId, members: m.members, revoked: m.revoked }
}
