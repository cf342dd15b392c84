import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p, type ServiceFactoryMap } from 'libp2p'

export type TestTransport = 'tcp' | 'memory'

export interface TestNodeOptions<S extends Record<string, unknown>> {
  transport: TestTransport
  /** Keep a node's identity across restarts by passing the same key. */
  privateKey?: PrivateKey
  services?: ServiceFactoryMap<S>
}

let memoryAddressCounter = 0

/**
 * A real libp2p node for in-process tests: TCP on 127.0.0.1 (port 0) or the memory transport,
 * noise, yamux and identify (the registrar's topologies need identify).
 */
export async function createTestNode<S extends Record<string, unknown>>(
  options: TestNodeOptions<S>,
): Promise<Libp2p<S & { identify: unknown }>> {
  const listen =
    options.transport === 'tcp'
      ? ['/ip4/127.0.0.1/tcp/0']
      : [`/memory/cloudless-test-${process.pid}-${++memoryAddressCounter}`]
  const node = await createLibp2p({
    privateKey: options.privateKey ?? (await generateKeyPair('Ed25519')),
    addresses: { listen },
    transports: [options.transport === 'tcp' ? tcp() : memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ...options.services } as ServiceFactoryMap<S & { identify: unknown }>,
  })
  return node
}

export async function connect(from: Libp2p, to: Libp2p): Promise<void> {
  await from.dial(to.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
}

/** Polls `condition` until it holds, or fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
