import type { DeviceReach, WebPeer } from '../peer/peer.ts'
import { h } from './dom.ts'

/** How often the round trips are measured again while the panel is on screen. */
const RTT_EVERY_MS = 10_000
const REACH_LABEL = { lan: 'LAN', direct: 'direct', relayed: 'relayed' } as const

/**
 * The library's other devices in the sidebar: online or not, how this page reaches each now (on
 * the LAN, directly over the internet, or through the library's relay) and the round trip, as
 * `cloudless status` shows them on a node.
 */
export class DevicesPanel {
  readonly element: HTMLElement
  readonly #peer: WebPeer
  readonly #list: HTMLElement
  readonly #rtt = new Map<string, number>()
  #timer: ReturnType<typeof setInterval> | undefined
  #measuring = false

  constructor(peer: WebPeer) {
    this.#peer = peer
    this.#list = h('ul', { class: 'devices', 'data-testid': 'devices' })
    this.element = h('div', { class: 'devices-panel' }, h('h3', {}, 'Devices'), this.#list)
    peer.addEventListener('status', () => {
      this.#render()
      void this.#measure()
    })
    this.#render()
    void this.#measure()
    this.#timer = setInterval(() => {
      if (this.element.isConnected && document.visibilityState === 'visible') void this.#measure()
    }, RTT_EVERY_MS)
  }

  dispose(): void {
    clearInterval(this.#timer)
  }

  async #measure(): Promise<void> {
    if (this.#measuring) return
    this.#measuring = true
    try {
      for (const device of this.#peer.devices()) {
        if (device.reach === null) {
          this.#rtt.delete(device.deviceId)
          continue
        }
        const ms = await this.#peer.roundTripMs(device.deviceId, AbortSignal.timeout(5_000))
        if (ms === null) this.#rtt.delete(device.deviceId)
        else this.#rtt.set(device.deviceId, ms)
      }
    } finally {
      this.#measuring = false
    }
    this.#render()
  }

  #render(): void {
    const devices = this.#peer.devices().sort((a, b) => a.name.localeCompare(b.name))
    this.#list.replaceChildren(
      ...devices.map((device) =>
        h(
          'li',
          {
            class: device.reach === null ? 'device offline' : 'device online',
            'data-testid': 'device',
            'data-device-id': device.deviceId,
            'data-reach': device.reach ?? 'offline',
            title: device.address ?? '',
          },
          h('span', { class: 'device-name' }, device.name),
          h('span', { class: 'device-reach muted' }, this.#describe(device)),
        ),
      ),
    )
  }

  #describe(device: DeviceReach): string {
    if (device.reach === null) {
      return device.lastSeen === null ? 'offline' : `offline, seen ${ago(device.lastSeen)}`
    }
    const rtt = this.#rtt.get(device.deviceId)
    return rtt === undefined ? REACH_LABEL[device.reach] : `${REACH_LABEL[device.reach]}, ${rtt} ms`
  }
}

function ago(at: number): string {
  const minutes = Math.round((Date.now() - at) / 60_000)
  if (minutes < 1) return 'just now'
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} days ago`
}
