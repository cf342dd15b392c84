import { inviteWithKnownToken } from '../peer/node-api.ts'
import { h } from './dom.ts'

const INVITE_MINUTES = 15

/**
 * "Invite another device": asks the node that serves this page for an invite (with the node's
 * token, which the page got from the address `npm start` printed; node-api.ts) and shows its web
 * link, for another browser, and its link and code, for `cloudless join` on another computer.
 */
export class InvitePanel {
  readonly element: HTMLElement
  readonly #result: HTMLElement
  readonly #button: HTMLButtonElement

  constructor() {
    this.#button = h(
      'button',
      { type: 'button', class: 'nav', 'data-testid': 'invite-device' },
      '+ Invite another device',
    )
    this.#result = h('div', { class: 'invite muted', 'data-testid': 'invite-result' })
    this.#button.addEventListener('click', () => void this.#invite())
    this.element = h('div', { class: 'invite-panel' }, this.#button, this.#result)
  }

  async #invite(): Promise<void> {
    this.#button.disabled = true
    this.#result.className = 'invite muted'
    this.#result.textContent = 'Asking the node for an invite…'
    try {
      const invite = await inviteWithKnownToken({
        ttlMinutes: INVITE_MINUTES,
        signal: AbortSignal.timeout(30_000),
      })
      const until = new Date(invite.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      this.#result.replaceChildren(
        h('p', {}, `Open this link in the other browser (once, until ${until}):`),
        h('a', { href: invite.webLink, 'data-testid': 'invite-web-link', target: '_blank' }, invite.webLink),
        h('p', {}, 'On another computer: '),
        h('code', { 'data-testid': 'invite-link' }, `cloudless join '${invite.link}'`),
        ...(invite.code === null ? [] : [h('p', {}, 'or the code '), h('code', {}, invite.code)]),
      )
    } catch (error) {
      this.#result.className = 'invite error'
      this.#result.textContent = (error as Error).message
    } finally {
      this.#button.disabled = false
    }
  }
}
