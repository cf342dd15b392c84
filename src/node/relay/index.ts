/**
 * Reaching home from away: the relay (`cloudless relay`: relay-server, relay-node, member-book,
 * relay-gater, members-protocol) and the device's side (relay-link keeps a reservation and tells
 * the relay the device list; direct-upgrade moves relayed connections to hole-punched WebRTC;
 * away-libp2p adds the transports and services; reach classifies connections for the status).
 */
export {
  AWAY_CONNECTION_MANAGER,
  AWAY_LISTEN,
  type AwaySettings,
  awayServices,
  awayTransports,
} from './away-libp2p.ts'
export { DirectUpgrader } from './direct-upgrade.ts'
export { BadRelayAddressError, RelayRefusedError, RelayStateFileError } from './errors.ts'
export type { MembersMessage } from './member-book.ts'
export { bestConnection, type Reach, reachOf, roundTripMs } from './reach.ts'
export { type RelayLink, type RelayState, type RelayStatus, relayLink } from './relay-link.ts'
export {
  checkRelayAddress,
  isLibraryRelay,
  libraryRelays,
  libraryStunServers,
  onRelaysChange,
  setLibraryRelays,
  setLibraryStunServers,
} from './relay-setting.ts'
export { withRelays } from './with-relays.ts'
