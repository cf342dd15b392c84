import { AccessGater } from '../../node/access/index.ts'

/**
 * The library's connection gater, for the browser. libp2p's browser default refuses private
 * addresses and plain `ws://` (it sets `denyDialMultiaddr` when the gater has none); the devices
 * of a home library sit on exactly such addresses, so the page may dial them. Who is let in is
 * still decided by the device list, after the noise handshake (AccessGater).
 */
export class BrowserGater extends AccessGater {
  override readonly denyDialMultiaddr = (): boolean => false
}
