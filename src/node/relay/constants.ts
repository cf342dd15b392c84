/** Devices tell their relay who belongs to their library over this protocol (see member-book.ts). */
export const RELAY_MEMBERS_PROTOCOL = '/cloudless/relay-members/1.0.0'

/** A members message is a few hundred peer ids at most. */
export const MAX_MEMBERS_MESSAGE_BYTES = 256 * 1024

/** Default ports of `cloudless relay` (next to the device's 7740-7742). */
export const DEFAULT_RELAY_TCP_PORT = 7750
export const DEFAULT_RELAY_WS_PORT = 7751

/** The catalog map that holds library-wide network settings ('relays' -> string[] of multiaddrs). */
export const NETWORK_SETTINGS_MAP = 'network'

/** @libp2p/webrtc's protocol for setting up WebRTC through a relay (not exported by it). */
export const WEBRTC_SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'
