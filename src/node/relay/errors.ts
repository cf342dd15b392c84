/** The relay refused what a device asked (not a device of a library it serves, bad message). */
export class RelayRefusedError extends Error {
  override name = 'RelayRefusedError'
}

/** A relay address that cannot be used: not a multiaddr, or without the relay's /p2p/<peer id>. */
export class BadRelayAddressError extends Error {
  override name = 'BadRelayAddressError'
}

/** relay.json cannot be read. */
export class RelayStateFileError extends Error {
  override name = 'RelayStateFileError'
}

/** A direct (hole-punched) connection stopped carrying anything: its path broke. */
export class DirectPathBrokenError extends Error {
  override name = 'DirectPathBrokenError'
}
