import { Socket } from 'node:net'
import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'
import { withEncrypterHooks } from './encrypter-hooks.ts'

/**
 * Writes of a TCP connection gathered into one system call per turn of the event loop.
 *
 * Noise hands the TCP connection each message as a list of pieces (a 2-byte length, then up to
 * 64 KiB of ciphertext, again and again), and @libp2p/tcp writes every piece with its own
 * socket.write(): measured in bench:blobs, a 1 MiB blob answer became 32 write system calls on the
 * sender, and every yamux window update or request from the receiver two of them, each one waking
 * the other process (on two busy cores, the receiver spent 9.8 of its 55 CPU-s in socket writes
 * while mirroring 10k small tracks). Here the connection's socket is corked while a message is
 * written and uncorked at the end of this turn of the event loop (setImmediate), so that everything
 * written meanwhile leaves in one writev(): noise messages, or the window updates and requests that
 * the socket reads of one turn caused (libuv hands over up to 32 reads per socket per turn, and yamux
 * answers every data frame with a window update). Uncorking at the end of each call stack
 * (process.nextTick) instead: the 10k mirror took 24.6 and 26.6 s against 22.4 and 23.8 s.
 *
 * Backpressure is kept: a send reports "can send more" only while the socket buffers less than its
 * high-water mark, and the socket emits 'drain' once what was written is flushed.
 */
export function gatheringSocketWrites<C, E>(
  factory: (components: C) => ConnectionEncrypter<E>,
): (components: C) => ConnectionEncrypter<E> {
  return withEncrypterHooks(factory, { before: gatherWrites })
}

/** What @libp2p/tcp's connection holds: its net.Socket, and the method that writes to it. */
interface SocketConnection {
  socket?: unknown
  sendData?: unknown
}

/** Patches a @libp2p/tcp connection in place (its sendData); any other connection is left alone. */
export function gatherWrites<S extends MessageStream>(connection: S): S {
  const tcp = connection as unknown as SocketConnection
  const socket = tcp.socket
  if (!(socket instanceof Socket) || typeof tcp.sendData !== 'function') return connection
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  tcp.sendData = (data: Iterable<Uint8Array>): { sentBytes: number; canSendMore: boolean } => {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(uncork)
    }
    let sentBytes = 0
    for (const buf of data) {
      socket.write(buf)
      sentBytes += buf.byteLength
    }
    return { sentBytes, canSendMore: socket.writableLength < socket.writableHighWaterMark }
  }
  return connection
}
