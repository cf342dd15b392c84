import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { Catalog } from '../../src/crdt/catalog.ts'
import { AccessGater, Membership } from '../../src/node/access/index.ts'
import { type CatalogSync, catalogSync } from '../../src/node/protocols/catalog-sync/index.ts'
import {
  type FailureThrottleInit,
  InviteBook,
  type InviteBookInit,
  type Pairing,
  pairing,
} from '../../src/node/protocols/pairing/index.ts'
import { trackRecord } from './track-record.ts'

export interface PairingPeer {
  node: Libp2p<{ pairing: Pairing; identify: unknown; catalogSync?: CatalogSync }>
  id: string
  name: string
  catalog: Catalog
  membership: Membership
  invites: InviteBook
  gater: AccessGater
  pairing: Pairing
}

export interface PairingPeerOptions {
  name: string
  throttle?: FailureThrottleInit
  invites?: InviteBookInit
  strangerConnectionTtlMs?: number
  /** Peer ids of the library's relays (pairing's isRelay). */
  relays?: string[]
  /** Also run catalog sync, allowing members only (its library id is fixed at start). */
  catalogSync?: boolean
  /** Send joiners every update the catalog has had, as a store would, instead of one encoded state. */
  sendStoredUpdates?: boolean
}

/**
 * A cloudless-like node for in-process tests: TCP on 127.0.0.1 (port 0), noise, yamux, identify,
 * the access gater and the pairing service, over a fresh catalog that lists only itself.
 */
export async function startPairingPeer(options: PairingPeerOptions): Promise<PairingPeer> {
  const privateKey = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(privateKey).toString()
  const catalog = new Catalog()
  const history: Uint8Array[] = []
  catalog.doc.on('update', (update: Uint8Array) => history.push(update))
  catalog.initLibrary(randomBytes(8).toString('hex'))
  catalog.putDevice(id, { name: options.name, addedAt: Date.now() })
  const membership = new Membership({ catalog, selfId: id })
  const invites = new InviteBook(options.invites)
  const gater = new AccessGater({ membership, invites })
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    services: {
      identify: identify(),
      pairing: pairing({
        catalog,
        membership,
        invites,
        gater,
        deviceName: options.name,
        ...(options.sendStoredUpdates === true ? { catalogState: async () => [...history] } : {}),
        ...(options.throttle === undefined ? {} : { throttle: options.throttle }),
        ...(options.strangerConnectionTtlMs === undefined
          ? {}
          : { strangerConnectionTtlMs: options.strangerConnectionTtlMs }),
        ...(options.relays === undefined ? {} : { isRelay: (peerId) => options.relays!.includes(peerId) }),
      }),
      ...(options.catalogSync === true
        ? {
            catalogSync: catalogSync({
              doc: catalog.doc,
              libraryId: catalog.libraryId!,
              isAllowed: (peerId) => membership.isMember(peerId),
            }),
          }
        : {}),
    },
  })
  return {
    node: node as PairingPeer['node'],
    id,
    name: options.name,
    catalog,
    membership,
    invites,
    gater,
    pairing: node.services.pairing,
  }
}

export async function stopPairingPeer(peer: PairingPeer): Promise<void> {
  peer.membership.close()
  peer.invites.clear()
  await peer.node.stop()
}

export function putTracks(catalog: Catalog, count: number): void {
  catalog.transact(() => {
    for (let i = 0; i < count; i++) {
      catalog.putFile(
        'dev-test',
        `/music/track-${i}.flac`,
        `track-${i}`,
        trackRecord({
          contentId: `content-${i}`,
          size: 1000 + i,
          title: `Title ${i}`,
          artists: [`Artist ${i % 3}`],
          album: 'Album',
          trackNo: i + 1,
          trackTotal: count,
          year: 2001,
          durationSec: 180,
          codec: 'flac',
          container: 'flac',
          mime: 'audio/flac',
          sampleRate: 44100,
          channels: 2,
          bitsPerSample: 16,
          lossless: true,
          addedAt: Date.now(),
        }),
      )
    }
  })
}
