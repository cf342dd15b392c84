import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { MessageStream, MultiaddrConnection, StreamMessageEvent } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { expect, it } from 'vitest'
import { decryptingWithoutCopies } from '../../src/node/daemon/noise-decrypt.ts'

// Noise's decrypt replaced by one that does not copy each received message first
// (src/node/daemon/noise-decrypt.ts): the real noise handshake and ciphers, over an in-memory pair.

async function encrypter() {
  const privateKey = await generateKeyPair('Ed25519')
  const components = {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    logger: defaultLogger(),
    upgrader: { getStreamMuxers: () => new Map() },
  }
  return { peerId: components.peerId, encrypter: decryptingWithoutCopies(noise())(components as never) }
}

async function securedPair(): Promise<{
  out: MessageStream
  in: MessageStream
  rawOut: MultiaddrConnection
}> {
  const [rawOut, rawIn] = multiaddrConnectionPair()
  const [a, b] = await Promise.all([encrypter(), encrypter()])
  const [out, inbound] = await Promise.all([
    a.encrypter.secureOutbound(rawOut, { remotePeer: b.peerId }),
    b.encrypter.secureInbound(rawIn),
  ])
  return { out: out.connection, in: inbound.connection, rawOut }
}

function received(stream: MessageStream, bytes: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let length = 0
  return new Promise((resolve, reject) => {
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      const data = evt.data
      for (const part of data instanceof Uint8Array ? [data] : data) {
        parts.push(Buffer.from(part))
        length += part.length
      }
      if (length >= bytes) resolve(Buffer.concat(parts))
    })
    stream.addEventListener('close', (evt) =>
      reject(evt.error ?? new Error('closed before all bytes arrived')),
    )
  })
}

it('decrypts what noise encrypted, messages that span several reads included, with its own decrypt', async () => {
  const pair = await securedPair()
  expect(Object.hasOwn(pair.in, 'decrypt')).toBe(true)
  // 1 MiB in one send: 17 noise messages of 64 KiB, each built of several pieces by noise's encrypt.
  const sent = randomBytes(1024 * 1024 + 12345)
  const arriving = received(pair.in, sent.length)
  pair.out.send(sent)
  // And small messages (under 1200 bytes: noise's WebAssembly cipher).
  const small = randomBytes(700)
  const smallArriving = received(pair.out, small.length)
  pair.in.send(small)
  expect((await arriving).equals(sent)).toBe(true)
  expect((await smallArriving).equals(small)).toBe(true)
})

it.each([100_000, 700])('refuses a message of %i bytes altered on the way', async (size) => {
  const pair = await securedPair()
  const send = pair.rawOut.send.bind(pair.rawOut)
  pair.rawOut.send = (data) => {
    const bytes = Buffer.from(data instanceof Uint8Array ? data : data.subarray())
    bytes[100] = (bytes[100] ?? 0) ^ 1
    return send(bytes)
  }
  const arriving = received(pair.in, size)
  pair.out.send(randomBytes(size))
  await expect(arriving).rejects.toThrow()
})
