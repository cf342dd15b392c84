import { afterEach, expect, it } from 'vitest'
import { Device } from '../../../src/node/device/device.ts'
import { libraryStunServers } from '../../../src/node/relay/index.ts'
import { NodeProcess } from '../../helpers/node-process.ts'

/**
 * `cloudless start --stun` puts the servers in the catalog too, for the library's browsers, and
 * `--stun default` takes them out again (it used to leave the old ones to the browsers).
 */
let node: NodeProcess | undefined
afterEach(async () => {
  await node?.stop()
})

async function catalogStun(home: string): Promise<string[]> {
  const device = await Device.open(home)
  try {
    return libraryStunServers(device.catalog.doc)
  } finally {
    await device.close()
  }
}

it('--stun sets the library-wide STUN servers, a start without it keeps them, --stun default clears them', async () => {
  node = await NodeProcess.create('stun')
  await node.start(['--stun', 'stun:stun.example.org:3478'])
  await node.stop()
  expect(await catalogStun(node.home)).toEqual(['stun:stun.example.org:3478'])
  await node.start()
  await node.stop()
  expect(await catalogStun(node.home)).toEqual(['stun:stun.example.org:3478'])
  await node.start(['--stun', 'default'])
  await node.stop()
  expect(await catalogStun(node.home)).toEqual([])
}, 60_000)
