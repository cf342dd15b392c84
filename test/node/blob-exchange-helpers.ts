import type { Libp2p, Stream } from '@libp2p/interface'
import { afterEach } from 'vitest'
import { BLOCK_SIZE, type Manifest, manifestOf } from '../../src/blobs/index.ts'
import {
  BLOB_PROTOCOL,
  type BlobExchange,
  type BlobProvider,
  blobExchange,
  type ServedBlob,
} from '../../src/node/protocols/blob/index.ts'
import { connect, createTestNode } from '../helpers/libp2p.ts'

// Two blob-exchange nodes over TCP on 127.0.0.1, serving blobs held in memory (shared by the
// blob-exchange tests). Importing this registers an afterEach that stops the nodes.

/** A file changed under the provider: only the error's name matters to the server. */
export class FileChangedError extends Error {
  override name = 'BlobChangedError'
}

export interface StoredBlob {
  bytes: Uint8Array
  manifest: Manifest
}

/** Serves blobs held in memory, and records what the server asked of it. */
export class MemoryProvider implements BlobProvider {
  readonly blobs = new Map<string, StoredBlob>()
  /** Block indices read, in order. */
  readonly reads: number[] = []
  opened = 0
  closed = 0
  /** Blocks served with one byte flipped. */
  readonly corrupt = new Set<number>()
  /** Blocks from this index on fail as if the file had changed. */
  changedFrom = Number.POSITIVE_INFINITY
  /** Every read waits for this first, when set. */
  gate: Promise<void> | undefined
  /** Reads that were aborted by the server's signal. */
  abortedReads = 0

  add(bytes: Uint8Array): { contentId: string; manifest: Manifest } {
    const { contentId, manifest } = manifestOf(bytes)
    this.blobs.set(contentId, { bytes, manifest })
    return { contentId, manifest }
  }

  async open(contentId: string): Promise<ServedBlob | undefined> {
    const blob = this.blobs.get(contentId)
    if (blob === undefined) return undefined
    this.opened++
    const { manifest, bytes } = blob
    return {
      manifest,
      readBlock: async (index, signal, into) => {
        this.reads.push(index)
        if (this.gate !== undefined) {
          await Promise.race([
            this.gate,
            new Promise((_, reject) => {
              signal?.addEventListener('abort', () => {
                this.abortedReads++
                reject(signal.reason)
              })
            }),
          ])
        }
        if (index >= this.changedFrom) throw new FileChangedError(`block ${index}: size and mtime differ`)
        const start = index * manifest.blockSize
        const block = bytes.subarray(start, Math.min(start + manifest.blockSize, manifest.size))
        if (!this.corrupt.has(index)) {
          // As a file is read: into the server's spare buffer when it offers one.
          if (into === undefined || into.length < block.length) return block
          into.set(block)
          return into.subarray(0, block.length)
        }
        const damaged = Uint8Array.from(block)
        damaged[0]! ^= 0xff
        return damaged
      },
      close: async () => {
        this.closed++
      },
    }
  }
}

export interface Peer {
  node: Libp2p<{ blobs: BlobExchange }>
  blobs: BlobExchange
  provider: MemoryProvider
  id: string
}

export const running: Libp2p[] = []
export const members = new Set<string>()

afterEach(async () => {
  members.clear()
  await Promise.all(running.splice(0).map((node) => node.stop()))
})

export async function startPeer(
  options: {
    member?: boolean
    maxConcurrentPerPeer?: number
    maxConcurrentTotal?: number
    onStreamOpen?: () => () => void
  } = {},
): Promise<Peer> {
  const provider = new MemoryProvider()
  const node = await createTestNode({
    transport: 'tcp',
    services: {
      blobs: blobExchange({
        isMember: (peerId) => members.has(peerId),
        provider,
        ...(options.maxConcurrentPerPeer === undefined
          ? {}
          : { maxConcurrentPerPeer: options.maxConcurrentPerPeer }),
        ...(options.maxConcurrentTotal === undefined
          ? {}
          : { maxConcurrentTotal: options.maxConcurrentTotal }),
        ...(options.onStreamOpen === undefined ? {} : { onStreamOpen: options.onStreamOpen }),
      }),
    },
  })
  running.push(node)
  const id = node.peerId.toString()
  if (options.member !== false) members.add(id)
  return { node, blobs: node.services.blobs, provider, id }
}

/** A server and a client, connected over TCP on 127.0.0.1. */
export async function pair(
  options: Parameters<typeof startPeer>[0] = {},
  clientOptions: Parameters<typeof startPeer>[0] = {},
): Promise<[Peer, Peer]> {
  const server = await startPeer(options)
  const client = await startPeer(clientOptions)
  await connect(client.node, server.node)
  return [server, client]
}

export function blockOf(bytes: Uint8Array, index: number): Uint8Array {
  return bytes.subarray(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE)
}

export function blobStreams(peer: Peer, remote: Peer): Stream[] {
  return peer.node
    .getConnections(remote.node.peerId)
    .flatMap((connection) => connection.streams)
    .filter((stream) => stream.protocol === BLOB_PROTOCOL)
}
