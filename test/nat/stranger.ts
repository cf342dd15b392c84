// Runs inside a namespace as a device that belongs to no library the relay serves (a fresh key):
// tries to connect to the relay, to reserve a slot on it, and to reach a device through it.
// Prints one JSON line: { connected, reserved, reachedDevice, errors }.
//   node stranger.ts <relay multiaddr> <device circuit multiaddr>
import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const [relayAddress, deviceAddress] = process.argv.slice(2) as [string, string]
const node = await createLibp2p({
  transports: [tcp(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() },
})
const result = { connected: false, reserved: false, reachedDevice: false, errors: [] as string[] }
const attempt = async (what: keyof typeof result, run: () => Promise<unknown>) => {
  try {
    await run()
    ;(result as Record<string, unknown>)[what] = true
  } catch (error) {
    result.errors.push(`${what}: ${(error as Error).message}`)
  }
}
const signal = () => AbortSignal.timeout(15_000)
await attempt('connected', async () => {
  const connection = await node.dial(multiaddr(relayAddress), { signal: signal() })
  // The relay's gater closes a stranger's connection right after the handshake: use it to be sure.
  await node.services.identify.identify(connection, { signal: signal() })
})
await attempt('reserved', async () => {
  // Listening on <relay>/p2p-circuit asks the relay for a reservation.
  await (
    node as unknown as { components: { transportManager: { listen(a: unknown[]): Promise<void> } } }
  ).components.transportManager.listen([multiaddr(`${relayAddress}/p2p-circuit`)])
  if (!node.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')))
    throw new Error('no relayed address')
})
await attempt('reachedDevice', () => node.dial(multiaddr(deviceAddress), { signal: signal() }))
console.log(JSON.stringify(result))
await node.stop()
