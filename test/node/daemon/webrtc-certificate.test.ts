import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  CERTIFICATE_LIFESPAN_MS,
  loadOrCreateWebRTCCertificate,
} from '../../../src/node/daemon/webrtc-certificate.ts'
import { tempDir } from '../../helpers/fixtures.ts'
import { NodeProcess } from '../../helpers/node-process.ts'

const certhashOf = (addresses: string[]): string[] =>
  addresses.flatMap((a) => /\/webrtc-direct\/certhash\/([^/]+)/.exec(a)?.[1] ?? [])

describe('the WebRTC-Direct certificate', () => {
  const dirs: string[] = []
  afterAll(async () => {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })))
  })

  it('is kept in its file: the same certhash on every load, a new one when it nears expiry', async () => {
    const dir = await tempDir('cert')
    dirs.push(dir)
    const file = path.join(dir, 'webrtc-direct.json')
    const first = await loadOrCreateWebRTCCertificate(file)
    expect(first.certhash).toMatch(/^u[A-Za-z0-9_-]{46}$/)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
    const again = await loadOrCreateWebRTCCertificate(file)
    expect(again).toEqual(first)
    const nearExpiry = await loadOrCreateWebRTCCertificate(file, {
      now: Date.now() + CERTIFICATE_LIFESPAN_MS,
    })
    expect(nearExpiry.certhash).not.toBe(first.certhash)
    expect((await loadOrCreateWebRTCCertificate(file)).certhash).toBe(nearExpiry.certhash)
  })

  it('is replaced when its file is damaged', async () => {
    const dir = await tempDir('cert')
    dirs.push(dir)
    const file = path.join(dir, 'webrtc-direct.json')
    await fs.writeFile(file, '{"privateKey": "x", "pem": "not a certificate"}')
    const made = await loadOrCreateWebRTCCertificate(file)
    expect((await loadOrCreateWebRTCCertificate(file)).certhash).toBe(made.certhash)
  })

  it('gives a node the same webrtc-direct certhash after a restart', async () => {
    const node = await NodeProcess.create('cert')
    try {
      const before = certhashOf((await node.start()).addresses)
      expect(before).toHaveLength(1)
      expect(await node.stop()).toBe(0)
      const after = certhashOf((await node.start()).addresses)
      expect(after).toEqual(before)
    } finally {
      await node.dispose()
    }
  })
})
