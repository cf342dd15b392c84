/**
 * Makes a real `cloudless start` process a device that serves wrong bytes: loaded with
 * `node --import` before the CLI, it changes what the node's blob provider reads from its own files,
 * flipping the first byte of every block it serves. Its manifests stay true (they come from the
 * scan), so the devices it serves see blocks that do not match their checksums: a buggy or hostile
 * peer, or a disk that rots under an owner who has not noticed.
 *
 *   node --import ./test/helpers/lying-device.ts bin/cloudless.js start ...
 */
import { NodeBlobProvider } from '../../src/node/media/blob-provider.ts'

const open = NodeBlobProvider.prototype.open
NodeBlobProvider.prototype.open = async function lyingOpen(contentId, signal) {
  const blob = await open.call(this, contentId, signal)
  if (blob === undefined) return undefined
  return {
    ...blob,
    async readBlock(index, s, into) {
      const bytes = await blob.readBlock(index, s, into)
      const wrong = Uint8Array.from(bytes)
      wrong[0] = (wrong[0]! + 1) & 0xff
      return wrong
    },
  }
}
process.stderr.write('lying-device: this node serves a wrong first byte in every block\n')
