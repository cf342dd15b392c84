import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { loadOrCreateApiToken } from '../../../src/node/control/api-token.ts'
import { tempDir } from '../../helpers/fixtures.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function tokenFile(): Promise<string> {
  const dir = await tempDir('cl-token-')
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }))
  return path.join(dir, 'api-token')
}

it('makes a token once, readable only by the user, and gives the same one at every start', async () => {
  const file = await tokenFile()
  const first = await loadOrCreateApiToken(file)
  expect(first).toMatch(/^[A-Za-z0-9_-]{32}$/)
  expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
  expect(await loadOrCreateApiToken(file)).toBe(first)
})

it('makes a new token when the file is deleted, or is not a token', async () => {
  const file = await tokenFile()
  const first = await loadOrCreateApiToken(file)
  await fs.rm(file)
  const second = await loadOrCreateApiToken(file)
  expect(second).not.toBe(first)
  await fs.writeFile(file, 'short\n')
  const third = await loadOrCreateApiToken(file)
  expect(third).not.toBe('short')
  expect(third).toMatch(/^[A-Za-z0-9_-]{32}$/)
})
