/**
 * The floor of this stack: the least any Node implementation of an encrypted, verified file transfer
 * does, run as two processes on loopback. No libp2p, no yamux, no catalog, no requests: one TCP
 * socket, the sender streaming every file of a folder in order.
 *
 *   node bench/lib/floor-child.ts receive <dir>        prints {"port": N}, then {"cpuMs", "ms"} when done
 *   node bench/lib/floor-child.ts send <port> <dir>    prints {"cpuMs", "ms"} when the receiver is done
 *
 * and the same receiver over js-libp2p instead of a bare socket ("libp2p plain stream": TCP, Noise,
 * yamux configured as the Cloudless node has them, one stream, the plaintext in 1 MiB sends; the
 * stack used plainly, which is not a floor: Cloudless's own streams move more):
 *
 *   node bench/lib/floor-child.ts receive-libp2p <dir>      prints {"addr": multiaddr}, then as above
 *   node bench/lib/floor-child.ts send-libp2p <addr> <dir>
 *
 * What it does per byte is what Cloudless does at the least (and what Syncthing does, with AES-GCM
 * instead of ChaCha20): the sender reads 256 KiB blocks and seals them in frames of at most 65,519
 * bytes with ChaCha20-Poly1305 (Node's OpenSSL, a cipher object per frame as @chainsafe/libp2p-noise
 * makes); the receiver opens each frame, hashes each 256 KiB block with SHA-256, writes it in place,
 * and makes each file durable (fdatasync in the thread pool, then rename from .partial) while the
 * next files arrive; the transfer ends when the last rename is done.
 * Timed from the connection to the receiver's last rename; each process reports its own CPU time.
 */
import { createCipheriv, createDecipheriv, hash } from 'node:crypto'
import {
  closeSync,
  fdatasync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { dirname, join, relative } from 'node:path'
import { promisify } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { gatheringSocketWrites } from '../../src/node/daemon/socket-writes.ts'
import { waitForDrain } from '../../src/node/protocols/stream-io.ts'

const BLOCK = 256 * 1024
/** Plaintext per frame: Noise's 65,535-byte message less the 16-byte tag. */
const FRAME_PLAINTEXT = 65_535 - 16
const TAG = 16
/** The key of this benchmark's session (the handshake is not what is measured). */
const KEY = Buffer.alloc(32, 7)
/** What the libp2p sender hands to one stream.send() (as the blob server gathers its answers). */
const LIBP2P_SEND_BYTES = 1024 * 1024
const PROTOCOL = '/cloudless-bench/floor/1'
const fdatasyncAsync = promisify(fdatasync)

function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12)
  n.writeUInt32LE(counter >>> 0, 4)
  n.writeUInt32LE(Math.floor(counter / 2 ** 32), 8)
  return n
}

function seal(counter: number, plaintext: Uint8Array): Buffer[] {
  const cipher = createCipheriv('chacha20-poly1305', KEY, nonce(counter), { authTagLength: TAG })
  const body = cipher.update(plaintext)
  cipher.final()
  const length = Buffer.allocUnsafe(2)
  length.writeUInt16BE(body.length + TAG)
  return [length, body, cipher.getAuthTag()]
}

function open(counter: number, frame: Uint8Array): Buffer {
  const decipher = createDecipheriv('chacha20-poly1305', KEY, nonce(counter), { authTagLength: TAG })
  decipher.setAuthTag(frame.subarray(frame.length - TAG))
  const out = decipher.update(frame.subarray(0, frame.length - TAG))
  decipher.final()
  return out
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

/** Stays alive until the benchmark stops it: it reads this process's CPU time from /proc first. */
function waitToBeStopped(): void {
  setInterval(() => {}, 60_000)
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

/**
 * The sending side's plaintext: a JSON list of [relative path, size] after its length (4 bytes, big
 * endian; it spans many frames for a large library), then every file's bytes in
 * order, in pieces of `pieceBytes` (whole blocks). `fresh`: each piece in a new buffer (for a send
 * that keeps it), else one buffer reused.
 */
function* plaintextOf(dir: string, pieceBytes: number, fresh: boolean): Generator<Uint8Array> {
  const paths = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath, e.name))
    .sort()
  const sizes = paths.map((path) => statSync(path).size)
  const list = Buffer.from(JSON.stringify(paths.map((path, i) => [relative(dir, path), sizes[i]])))
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32BE(list.length)
  yield Buffer.concat([length, list])
  let piece = Buffer.allocUnsafe(pieceBytes)
  for (let i = 0; i < paths.length; i++) {
    const fd = openSync(paths[i]!, 'r')
    try {
      for (let offset = 0; offset < sizes[i]!; ) {
        const n = readSync(fd, piece, 0, Math.min(pieceBytes, sizes[i]! - offset), offset)
        if (n === 0) throw new Error(`${paths[i]} shrank while it was sent`)
        yield piece.subarray(0, n)
        if (fresh) piece = Buffer.allocUnsafe(pieceBytes)
        offset += n
      }
    } finally {
      closeSync(fd)
    }
  }
}

/**
 * The receiving side's work on the plaintext: every 256 KiB block hashed (SHA-256) and written in
 * place, every file made durable (fdatasync in the thread pool, then renamed from .partial).
 */
class FileSink {
  readonly #dir: string
  #files: Array<[string, number]> | undefined
  #file = -1
  #fd = -1
  #written = 0
  readonly #block = Buffer.allocUnsafe(BLOCK)
  #filled = 0
  readonly #syncs: Promise<void>[] = []
  /** The file list's bytes until all of it is in. */
  #listBytes = Buffer.alloc(0)

  constructor(dir: string) {
    this.#dir = dir
  }

  get complete(): boolean {
    return this.#files !== undefined && this.#file >= this.#files.length
  }

  get files(): number {
    return this.#files?.length ?? 0
  }

  consume(plaintext: Uint8Array): void {
    let at = 0
    if (this.#files === undefined) {
      this.#listBytes = Buffer.concat([this.#listBytes, plaintext])
      if (this.#listBytes.length < 4) return
      const end = 4 + this.#listBytes.readUInt32BE(0)
      if (this.#listBytes.length < end) return
      this.#files = JSON.parse(this.#listBytes.subarray(4, end).toString('utf8')) as Array<[string, number]>
      // The rest of this piece is file data.
      at = plaintext.length - (this.#listBytes.length - end)
      this.#nextFile()
    }
    while (at < plaintext.length) {
      const size = this.#files[this.#file]![1]
      const room = Math.min(BLOCK - this.#filled, size - this.#written - this.#filled)
      const take = Math.min(room, plaintext.length - at)
      this.#block.set(plaintext.subarray(at, at + take), this.#filled)
      this.#filled += take
      at += take
      if (this.#filled === BLOCK || this.#written + this.#filled === size) this.#flushBlock()
    }
  }

  /** Waits for the last files' fdatasync and rename. */
  async finish(): Promise<void> {
    await Promise.all(this.#syncs)
  }

  #target(): string {
    const target = join(this.#dir, this.#files![this.#file]![0])
    mkdirSync(dirname(target), { recursive: true })
    return target
  }

  #nextFile(): void {
    const files = this.#files!
    while (++this.#file < files.length && files[this.#file]![1] === 0)
      closeSync(openSync(this.#target(), 'w'))
    if (this.#file >= files.length) return
    this.#fd = openSync(`${this.#target()}.partial`, 'w')
    this.#written = 0
  }

  #flushBlock(): void {
    const bytes = this.#block.subarray(0, this.#filled)
    hash('sha256', bytes, 'buffer')
    for (let done = 0; done < bytes.length; )
      done += writeSync(this.#fd, bytes, done, bytes.length - done, this.#written + done)
    this.#written += this.#filled
    this.#filled = 0
    if (this.#written === this.#files![this.#file]![1]) {
      const [fd, target] = [this.#fd, join(this.#dir, this.#files![this.#file]![0])]
      this.#syncs.push(
        fdatasyncAsync(fd).then(() => {
          renameSync(`${target}.partial`, target)
          closeSync(fd)
        }),
      )
      this.#nextFile()
    }
  }
}

async function send(port: number, dir: string): Promise<void> {
  const socket = createConnection({ port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const started = performance.now()
  const cpu = process.cpuUsage()
  const done = new Promise<void>((resolve, reject) =>
    socket.once('data', () => resolve()).once('error', reject),
  )
  let counter = 0
  for (const plaintext of plaintextOf(dir, BLOCK, false)) {
    // Sealed at once (new buffers): the block may be reused.
    for (let at = 0; at < plaintext.length; at += FRAME_PLAINTEXT) {
      const parts = seal(counter++, plaintext.subarray(at, at + FRAME_PLAINTEXT))
      socket.cork()
      let more = true
      for (const part of parts) more = socket.write(part)
      socket.uncork()
      if (!more) await new Promise((resolve) => socket.once('drain', resolve))
    }
  }
  await done
  print({ ms: performance.now() - started, cpuMs: cpuMs(cpu) })
  socket.destroy()
  waitToBeStopped()
}

async function receive(dir: string): Promise<void> {
  const server = createServer({ noDelay: true })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  print({ port: (server.address() as { port: number }).port })
  const socket = await new Promise<Socket>((resolve) => server.once('connection', resolve))
  const started = performance.now()
  const cpu = process.cpuUsage()
  const sink = new FileSink(dir)
  let counter = 0
  // Arrived bytes not yet framed; a frame is copied out only when it spans chunks.
  const chunks: Buffer[] = []
  let buffered = 0
  const take = (length: number): Buffer => {
    const first = chunks[0]!
    if (first.length >= length) {
      chunks[0] = first.subarray(length)
      if (chunks[0].length === 0) chunks.shift()
      buffered -= length
      return first.subarray(0, length)
    }
    const out = Buffer.allocUnsafe(length)
    for (let at = 0; at < length; ) {
      const chunk = chunks[0]!
      const n = Math.min(chunk.length, length - at)
      chunk.copy(out, at, 0, n)
      at += n
      chunks[0] = chunk.subarray(n)
      if (chunks[0].length === 0) chunks.shift()
    }
    buffered -= length
    return out
  }
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      buffered += chunk.length
      while (buffered >= 2) {
        const head = chunks[0]!.length >= 2 ? chunks[0]! : take(2)
        const length = head.readUInt16BE(0)
        if (head !== chunks[0]) {
          // The 2-byte length spanned chunks and was taken: put it back unless the frame is here.
          if (buffered < length) {
            chunks.unshift(head)
            buffered += 2
            break
          }
        } else {
          if (buffered - 2 < length) break
          take(2)
        }
        sink.consume(open(counter++, take(length)))
      }
      if (sink.complete) resolve()
    })
  })
  await sink.finish()
  const result = { ms: performance.now() - started, cpuMs: cpuMs(cpu), files: sink.files }
  socket.write(Buffer.from([1]))
  print(result)
  socket.end()
  server.close()
  waitToBeStopped()
}

/** A libp2p node as the Cloudless node has its TCP connections: Noise (writes gathered per turn), yamux. */
function floorNode(listen: string[]) {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [gatheringSocketWrites(noise())],
    streamMuxers: [yamux()],
  })
}

async function sendLibp2p(addr: string, dir: string): Promise<void> {
  const node = await floorNode([])
  const stream = await node.dialProtocol(multiaddr(addr), PROTOCOL)
  const started = performance.now()
  const cpu = process.cpuUsage()
  const done = new Promise<void>((resolve) =>
    stream.addEventListener('message', () => resolve(), { once: true }),
  )
  for (const plaintext of plaintextOf(dir, LIBP2P_SEND_BYTES, true)) {
    if (!stream.send(plaintext)) await waitForDrain(stream)
  }
  await done
  print({ ms: performance.now() - started, cpuMs: cpuMs(cpu) })
  await node.stop()
  waitToBeStopped()
}

async function receiveLibp2p(dir: string): Promise<void> {
  const node = await floorNode(['/ip4/127.0.0.1/tcp/0'])
  const result = new Promise<{ ms: number; cpuMs: number; files: number }>((resolve, reject) => {
    void node.handle(
      PROTOCOL,
      (stream) => {
        // Yamux's 4 MiB read buffer: the handler below consumes every message at once.
        const started = performance.now()
        const cpu = process.cpuUsage()
        const sink = new FileSink(dir)
        stream.addEventListener('message', (evt) => {
          const data = evt.data
          try {
            if (data instanceof Uint8Array) sink.consume(data)
            else for (const piece of data) sink.consume(piece)
          } catch (error) {
            reject(error)
            return
          }
          if (!sink.complete) return
          void sink.finish().then(() => {
            resolve({ ms: performance.now() - started, cpuMs: cpuMs(cpu), files: sink.files })
            stream.send(new Uint8Array([1]))
          }, reject)
        })
      },
      { maxInboundStreams: 1 },
    )
  })
  print({ addr: node.getMultiaddrs()[0]!.toString() })
  print(await result)
  waitToBeStopped()
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'send') await send(Number(args[0]), args[1]!)
else if (mode === 'receive') await receive(args[0]!)
else if (mode === 'send-libp2p') await sendLibp2p(args[0]!, args[1]!)
else if (mode === 'receive-libp2p') await receiveLibp2p(args[0]!)
else {
  process.stderr.write(
    'usage: floor-child.ts receive <dir> | send <port> <dir> | receive-libp2p <dir> | send-libp2p <addr> <dir>\n',
  )
  process.exit(2)
}
