/**
 * The floor of this stack: the least any Node implementation of an encrypted, verified file transfer
 * does, run as two processes on loopback. No libp2p, no yamux, no catalog, no requests: one TCP
 * socket, the sender streaming every file of a folder in order.
 *
 *   node bench/lib/floor-child.ts receive <dir>        prints {"port": N}, then {"cpuMs", "ms"} when done
 *   node bench/lib/floor-child.ts send <port> <dir>    prints {"cpuMs", "ms"} when the receiver is done
 *
 * What it does per byte is what Cloudless does at the least (and what Syncthing does, with AES-GCM
 * instead of ChaCha20): the sender reads 256 KiB blocks and seals them in frames of at most 65,519
 * bytes with ChaCha20-Poly1305 (Node's OpenSSL, a cipher object per frame as @chainsafe/libp2p-noise
 * makes); the receiver opens each frame, hashes each 256 KiB block with SHA-256, writes it in place,
 * and makes each file durable (fdatasync, then rename from .partial) before the next file's end.
 * Timed from the connection to the receiver's last rename; each process reports its own CPU time.
 */
import { createCipheriv, createDecipheriv, hash } from 'node:crypto'
import {
  closeSync,
  fdatasync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { dirname, join, relative } from 'node:path'
import { promisify } from 'node:util'

const BLOCK = 256 * 1024
/** Plaintext per frame: Noise's 65,535-byte message less the 16-byte tag. */
const FRAME_PLAINTEXT = 65_535 - 16
const TAG = 16
/** The key of this benchmark's session (the handshake is not what is measured). */
const KEY = Buffer.alloc(32, 7)
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

function filesOf(dir: string): Array<{ path: string; size: number }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath, e.name))
    .sort()
    .map((path) => ({ path: relative(dir, path), size: 0 }))
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

async function send(port: number, dir: string): Promise<void> {
  const files = filesOf(dir)
  const fds = files.map((f) => {
    const fd = openSync(join(dir, f.path), 'r')
    f.size = fstatSync(fd).size
    return fd
  })
  const socket = createConnection({ port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const started = performance.now()
  const cpu = process.cpuUsage()
  const done = new Promise<void>((resolve, reject) =>
    socket.once('data', () => resolve()).once('error', reject),
  )
  let counter = 0
  const write = async (plaintext: Uint8Array) => {
    for (let at = 0; at < plaintext.length; at += FRAME_PLAINTEXT) {
      const parts = seal(counter++, plaintext.subarray(at, at + FRAME_PLAINTEXT))
      socket.cork()
      let more = true
      for (const part of parts) more = socket.write(part)
      socket.uncork()
      if (!more) await new Promise((resolve) => socket.once('drain', resolve))
    }
  }
  await write(Buffer.from(JSON.stringify(files.map((f) => [f.path, f.size]))))
  const block = Buffer.allocUnsafe(BLOCK)
  for (let i = 0; i < files.length; i++) {
    for (let offset = 0; offset < files[i]!.size; ) {
      const n = readSync(fds[i]!, block, 0, BLOCK, offset)
      // A fresh copy: the sealed frames are new buffers, so the block may be reused at once.
      await write(block.subarray(0, n))
      offset += n
    }
    closeSync(fds[i]!)
  }
  await done
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, cpuMs: cpuMs(cpu) })}\n`)
  socket.destroy()
}

async function receive(dir: string): Promise<void> {
  const server = createServer({ noDelay: true })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  process.stdout.write(`${JSON.stringify({ port })}\n`)
  const socket = await new Promise<Socket>((resolve) => server.once('connection', resolve))
  const started = performance.now()
  const cpu = process.cpuUsage()

  let files: Array<[string, number]> | undefined
  let file = -1
  let fd = -1
  let written = 0
  const block = Buffer.allocUnsafe(BLOCK)
  let filled = 0
  const syncs: Promise<void>[] = []
  const nextFile = () => {
    while (++file < files!.length && files![file]![1] === 0) finishEmpty()
    if (file >= files!.length) return
    const target = join(dir, files![file]![0])
    mkdirSync(dirname(target), { recursive: true })
    fd = openSync(`${target}.partial`, 'w')
    written = 0
  }
  const finishEmpty = () => {
    const target = join(dir, files![file]![0])
    mkdirSync(dirname(target), { recursive: true })
    closeSync(openSync(target, 'w'))
  }
  const flushBlock = () => {
    const bytes = block.subarray(0, filled)
    hash('sha256', bytes, 'buffer')
    for (let done = 0; done < bytes.length; )
      done += writeSync(fd, bytes, done, bytes.length - done, written + done)
    written += filled
    filled = 0
    const [name, size] = files![file]!
    if (written === size) {
      const [finishedFd, target] = [fd, join(dir, name)]
      syncs.push(
        fdatasyncAsync(finishedFd).then(() => {
          renameSync(`${target}.partial`, target)
          closeSync(finishedFd)
        }),
      )
      nextFile()
    }
  }
  const consume = (plaintext: Buffer) => {
    if (files === undefined) {
      files = JSON.parse(plaintext.toString('utf8')) as Array<[string, number]>
      nextFile()
      return
    }
    for (let at = 0; at < plaintext.length; ) {
      const size = files[file]![1]
      const room = Math.min(BLOCK - filled, size - written - filled)
      const take = Math.min(room, plaintext.length - at)
      plaintext.copy(block, filled, at, at + take)
      filled += take
      at += take
      if (filled === BLOCK || written + filled === size) flushBlock()
    }
  }

  let counter = 0
  let pending: Buffer[] = []
  let pendingBytes = 0
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      pending.push(chunk)
      pendingBytes += chunk.length
      let buffered = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
      let at = 0
      while (buffered.length - at >= 2) {
        const length = buffered.readUInt16BE(at)
        if (buffered.length - at - 2 < length) break
        consume(open(counter++, buffered.subarray(at + 2, at + 2 + length)))
        at += 2 + length
      }
      buffered = buffered.subarray(at)
      pending = buffered.length === 0 ? [] : [buffered]
      pendingBytes = buffered.length
      if (files !== undefined && file >= files.length) resolve()
    })
  })
  await Promise.all(syncs)
  const result = { ms: performance.now() - started, cpuMs: cpuMs(cpu), files: files?.length ?? 0 }
  socket.write(Buffer.from([1]))
  process.stdout.write(`${JSON.stringify(result)}\n`)
  socket.end()
  server.close()
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'send') await send(Number(args[0]), args[1]!)
else if (mode === 'receive') await receive(args[0]!)
else {
  process.stderr.write('usage: floor-child.ts receive <dir> | send <port> <dir>\n')
  process.exit(2)
}
