import { randomBytes } from 'node:crypto'
import { expect, it } from 'vitest'
import { sniff } from '../../../src/node/scanner/sniff.ts'

it('recognises containers by their first bytes', () => {
  expect(sniff(Buffer.from('ID3\x04\x00'))).toEqual({ kind: 'media', format: 'id3' })
  expect(sniff(Buffer.from('fLaC\x00\x00'))).toMatchObject({ kind: 'media', format: 'flac' })
  expect(sniff(Buffer.from('OggS\x00'))).toMatchObject({ kind: 'media' })
  expect(sniff(Buffer.from('\x00\x00\x00\x20ftypM4A '))).toMatchObject({ kind: 'media', format: 'mp4' })
  expect(sniff(Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt '))).toMatchObject({ kind: 'media' })
  expect(sniff(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toMatchObject({ kind: 'image', format: 'jpeg' })
  expect(sniff(Buffer.from('just some notes\n'))).toMatchObject({ kind: 'other', format: 'text' })
  expect(sniff(new Uint8Array())).toMatchObject({ kind: 'other', format: 'empty' })
})

it('finds untagged MPEG audio by two consecutive frame headers, not by one lucky sync word', () => {
  // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames.
  const frame = Buffer.alloc(417)
  frame.set([0xff, 0xfb, 0x90, 0x64])
  expect(sniff(Buffer.concat([frame, frame, frame]))).toMatchObject({ kind: 'media', format: 'mpeg' })
  const lonely = Buffer.concat([frame, Buffer.alloc(1000, 1)])
  expect(sniff(lonely).kind).toBe('other')
})

it('does not take random bytes for media', () => {
  let falsePositives = 0
  for (let i = 0; i < 200; i++) if (sniff(randomBytes(4096)).kind === 'media') falsePositives++
  expect(falsePositives).toBeLessThan(3)
})
