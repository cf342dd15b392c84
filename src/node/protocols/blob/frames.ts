import type { MessageStream } from '@libp2p/interface'
import { encodeLengthPrefix } from '../stream-io.ts'

/**
 * Queues one length-prefixed message made of a small `head` and a `body` on the stream, without
 * copying the body (a 256 KiB block) into a new buffer. Returns what the last send() returned:
 * false means the stream's buffers are full and the caller must wait for drain (stream-io's
 * waitForDrain) before sending more. Two sends, since each send becomes its own muxer frame.
 */
export function sendMessageParts(stream: MessageStream, head: Uint8Array, body?: Uint8Array): boolean {
  const length = head.length + (body?.length ?? 0)
  const prefix = encodeLengthPrefix(length)
  const first = new Uint8Array(prefix.length + head.length)
  first.set(prefix, 0)
  first.set(head, prefix.length)
  const writable = stream.send(first)
  return body === undefined ? writable : stream.send(body)
}

/**
 * libp2p's stream close() rejects with the stream's 'close' Event, not an Error, when the stream
 * closes while it waits to flush: callers should always see an Error.
 */
export function toError(err: unknown, fallback: string): Error {
  if (err instanceof Error) return err
  const error = (err as { error?: unknown } | undefined)?.error
  if (error instanceof Error) return error
  return new Error(fallback, { cause: err })
}
