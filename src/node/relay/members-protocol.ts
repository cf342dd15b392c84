import type { AbortOptions, Connection, Stream } from '@libp2p/interface'
import { readMessages, writeMessage } from '../protocols/stream-io.ts'
import { MAX_MEMBERS_MESSAGE_BYTES, RELAY_MEMBERS_PROTOCOL } from './constants.ts'
import { RelayRefusedError } from './errors.ts'
import { type MemberBook, type MembersMessage, parseMembersMessage } from './member-book.ts'

const encoder = new TextEncoder()

interface Reply {
  ok: boolean
  error?: string
}

/** Reads the first message of a stream, or throws if it ends first. */
async function readOne(stream: Stream, options: AbortOptions): Promise<Uint8Array> {
  for await (const message of readMessages(stream, {
    maxMessageLength: MAX_MEMBERS_MESSAGE_BYTES,
    ...options,
  }))
    return message
  throw new RelayRefusedError('the stream ended without a message')
}

/** The relay's side: one message in (a device list), one reply out. */
export function membersHandler(book: MemberBook, log: (line: string) => void) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const from = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(10_000)
    let reply: Reply
    try {
      const message = parseMembersMessage(await readOne(stream, { signal }))
      if (message === undefined) reply = { ok: false, error: 'not a members message' }
      else if (await book.accept(from, message)) {
        reply = { ok: true }
        log(`library ${message.libraryId}: ${message.members.length} device(s), told by ${from}`)
      } else reply = { ok: false, error: `${from} may not speak for library ${message.libraryId} here` }
      await writeMessage(stream, encoder.encode(JSON.stringify(reply)), { signal })
      await stream.close({ signal })
    } catch (error) {
      stream.abort(error as Error)
    }
  }
}

/** The device's side: sends the library's device list to a relay; throws RelayRefusedError if refused. */
export async function sendMembers(
  connection: Connection,
  message: MembersMessage,
  options: AbortOptions,
): Promise<void> {
  const stream = await connection.newStream(RELAY_MEMBERS_PROTOCOL, {
    ...options,
    runOnLimitedConnection: true,
  })
  try {
    await writeMessage(stream, encoder.encode(JSON.stringify(message)), options)
    const reply = JSON.parse(new TextDecoder().decode(await readOne(stream, options))) as Reply
    await stream.close(options).catch(() => {})
    if (!reply.ok) throw new RelayRefusedError(reply.error ?? 'the relay refused the device list')
  } catch (error) {
    stream.abort(error as Error)
    throw error
  }
}
