import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'
import { withEncrypterHooks } from './encrypter-hooks.ts'

/**
 * Noise's decryption without a copy of every received message.
 *
 * @chainsafe/libp2p-noise (17) decrypts each message it receives like this: the message arrives as
 * a list of the socket reads it spans (a Uint8ArrayList), and before decrypting, it asks for a
 * contiguous `dst` the size of the plaintext (`chunk.subarray()`), which copies the list into a new
 * buffer. Node's crypto then ignores `dst` and returns a buffer of its own: the copy is thrown away.
 * A noise message is up to 65,535 bytes plus a 2-byte length and a socket read at most 64 KiB, so nearly every message of
 * a transfer spans two reads: the receiver copied and allocated every byte once more for nothing,
 * and V8 collects garbage after every ~32 MB of such buffers (measured: a young-generation collection per
 * 32 MB of 64 KiB buffers, however little else is allocated).
 *
 * This replaces the connection's decrypt() with the same loop that passes `dst` only when it is a
 * view (a message that lies in one buffer, where the WebAssembly ChaCha20-Poly1305 noise uses for
 * messages under 1200 bytes decrypts in place, as before). A connection without noise's shape (another
 * encrypter, another version) is left alone.
 */
export function decryptingWithoutCopies<C, E>(
  factory: (components: C) => ConnectionEncrypter<E>,
): (components: C) => ConnectionEncrypter<E> {
  return withEncrypterHooks(factory, { after: patchDecrypt })
}

/** Noise's message size with its tag, and the tag (@chainsafe/libp2p-noise's constants). */
const NOISE_MESSAGE_BYTES = 65535
const TAG_BYTES = 16

interface ByteList {
  byteLength: number
  sublist(start: number, end: number): ByteList
}

/** What noise's EncryptedMessageStream holds: its handshake (the cipher states) and its decrypt(). */
interface NoiseConnection {
  decrypt?: unknown
  handshake?: { decrypt?: unknown }
  metrics?: { decryptedPackets?: { increment(): void }; decryptErrors?: { increment(): void } }
}

type Decrypt = (ciphertext: Uint8Array | ByteList, dst?: Uint8Array) => Uint8Array | ByteList

/** Patches a noise connection in place; any other is left alone. Exported for tests. */
export function patchDecrypt<S extends MessageStream>(connection: S): S {
  const noise = connection as unknown as NoiseConnection
  const handshake = noise.handshake
  if (typeof noise.decrypt !== 'function' || typeof handshake?.decrypt !== 'function') return connection
  const decryptMessage = (handshake.decrypt as Decrypt).bind(handshake)
  // Typed loosely: noise's Uint8ArrayList comes from its own copy of the package.
  noise.decrypt = (chunk: Uint8Array | ByteList) => {
    const parts: Array<Uint8Array | ByteList> = []
    for (let i = 0; i < chunk.byteLength; i += NOISE_MESSAGE_BYTES) {
      const end = Math.min(i + NOISE_MESSAGE_BYTES, chunk.byteLength)
      if (end - TAG_BYTES < i) throw new Error('Invalid chunk')
      const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
      // In place when the message lies in one buffer (a view, as noise has it); else none, and the
      // cipher allocates its output (Node's always does).
      const dst = oneBuffer(encrypted)?.subarray(0, end - i - TAG_BYTES)
      try {
        parts.push(decryptMessage(encrypted, dst))
        noise.metrics?.decryptedPackets?.increment()
      } catch (error) {
        noise.metrics?.decryptErrors?.increment()
        throw error
      }
    }
    return listOf(chunk, parts)
  }
  return connection
}

/** The message's bytes when they lie in one buffer (a Uint8ArrayList holds its pieces in `bufs`). */
function oneBuffer(message: Uint8Array | ByteList): Uint8Array | undefined {
  if (message instanceof Uint8Array) return message
  const bufs = (message as { bufs?: unknown }).bufs
  return Array.isArray(bufs) && bufs.length === 1 ? (bufs[0] as Uint8Array) : undefined
}

/** The parts as the kind of list noise returns (its EncryptedMessageStream hands it to onData). */
function listOf(chunk: Uint8Array | ByteList, parts: Array<Uint8Array | ByteList>): unknown {
  if (parts.length === 1) return parts[0]
  const ListClass =
    chunk instanceof Uint8Array ? undefined : (chunk.constructor as new (...bufs: unknown[]) => unknown)
  if (ListClass !== undefined) return new ListClass(...parts)
  return concat(parts as Uint8Array[])
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
