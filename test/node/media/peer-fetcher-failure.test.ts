import { describe, expect, it } from 'vitest'
import { PeerFetcher } from '../../../src/node/media/peer-fetcher.ts'
import type { ExchangePort } from '../../../src/node/media/ports.ts'
import {
  BlobTransferError,
  BlockVerificationError,
  ManifestVerificationError,
} from '../../../src/node/protocols/blob/index.ts'

/** How a failed fetch reads to a user: the device by name, wrong bytes and unreachable devices said plainly. */
const ALPHA = '12D3KooWAlphaAlphaAlphaAlphaAlphaAlphaAlphaAlphaAlpha1234'
const UNNAMED = '12D3KooWNoNameNoNameNoNameNoNameNoNameNoNameNoNameXyZ98765'
const fetcher = new PeerFetcher(
  {} as ExchangePort,
  () => [],
  (peer) => (peer === ALPHA ? 'alpha' : undefined),
)

describe('PeerFetcher.failure', () => {
  it('names the device and the bad block of the file asked for', () => {
    const error = new BlockVerificationError('block 3 of cid-a does not match its hash', 3, 'cid-a')
    expect(fetcher.failure(ALPHA, error, 'cid-a')).toBe(
      'alpha sent bytes that do not match their checksum (block 3): its copy is damaged, or the device misbehaves',
    )
    expect(PeerFetcher.sentWrongBytes(error, 'cid-a')).toBe(true)
  })

  it("does not blame a file for another file's bad block that ended the session", () => {
    const error = new BlockVerificationError('block 3 of cid-a does not match its hash', 3, 'cid-a')
    expect(fetcher.failure(ALPHA, error, 'cid-b')).toBe(
      'alpha sent wrong bytes for another file, so its transfers were stopped',
    )
    expect(PeerFetcher.sentWrongBytes(error, 'cid-b')).toBe(false)
  })

  it('keeps the detail when the block is not known', () => {
    const error = new BlockVerificationError(
      'the bytes sent for "X" do not match their checksum (a block of 7 bytes)',
      -1,
      'cid-a',
    )
    expect(fetcher.failure(ALPHA, error, 'cid-a')).toBe(`alpha: ${error.message}`)
  })

  it('says a device cannot be reached, without libp2p words or peer IDs', () => {
    const error = new BlobTransferError(`the transfer from ${ALPHA} failed: All multiaddr dials failed`, {
      cause: new Error('All multiaddr dials failed'),
    })
    expect(fetcher.failure(ALPHA, error, 'cid-a')).toBe('alpha cannot be reached')
    const refused = new BlobTransferError('the transfer failed', {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:4001'),
    })
    expect(fetcher.failure(ALPHA, refused, 'cid-a')).toBe('alpha cannot be reached')
  })

  it("gives the transport's own words otherwise, and the end of the ID for an unnamed device", () => {
    const error = new BlobTransferError('the transfer failed', { cause: new Error('stream reset') })
    expect(fetcher.failure(UNNAMED, error, 'cid-a')).toBe('device …XyZ98765: stream reset')
    const bare = new BlobTransferError('the transfer failed')
    expect(fetcher.failure(ALPHA, bare, 'cid-a')).toBe('alpha: the transfer failed')
  })

  it('calls a wrong manifest wrong bytes', () => {
    const error = new ManifestVerificationError('the manifest does not hash to cid-a')
    expect(fetcher.failure(ALPHA, error, 'cid-a')).toBe(
      "alpha sent a block list that does not match the file's content ID",
    )
    expect(PeerFetcher.sentWrongBytes(error, 'cid-a')).toBe(true)
  })
})
