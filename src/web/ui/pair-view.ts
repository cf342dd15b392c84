import { inviteWithKnownToken } from '../peer/node-api.ts'
import type { WebPeer } from '../peer/peer.ts'
import { h } from './dom.ts'

/**
 * The first screen of a browser that belongs to no library yet: paste an invite (or open an
 * invite link, which fills it in from the URL fragment and joins at once). Opened with the node's
 * token (`#local=…`, node-api.ts), it asks the node for an invite and joins with it at once.
 */
export function pairView(
  peer: WebPeer,
  options: { invite?: string; localToken?: boolean; onJoined(): void },
): HTMLElement {
  const input = h('textarea', {
    'data-testid': 'invite-input',
    placeholder: 'cloudless://join#… or a code like K7Q2-9XRT-…',
  })
  const message = h('p', { 'data-testid': 'pair-message', class: 'muted' })
  const button = h('button', { 'data-testid': 'join-button', type: 'button' }, 'Join')
  const join = async () => {
    const text = input.value.trim()
    if (text === '') return
    button.disabled = true
    message.className = 'muted'
    message.textContent = 'Joining…'
    try {
      const result = await peer.join(text, AbortSignal.timeout(120_000))
      message.textContent = `Joined the library of ${result.inviterName}.`
      options.onJoined()
    } catch (error) {
      message.className = 'error'
      message.textContent = (error as Error).message
      button.disabled = false
    }
  }
  button.addEventListener('click', () => void join())
  const view = h(
    'section',
    { class: 'pair', 'data-testid': 'pair-view' },
    h('h2', {}, 'Add this browser to your library'),
    h(
      'p',
      { class: 'muted' },
      'On a device of the library, run ',
      h('code', {}, 'cloudless invite'),
      ' and open its web link here, or paste the invite below.',
    ),
    input,
    button,
    message,
  )
  if (options.invite !== undefined) {
    input.value = options.invite
    queueMicrotask(() => void join())
  } else if (options.localToken === true) {
    button.disabled = true
    message.textContent = 'Adding this browser to the library of the node on this machine…'
    inviteWithKnownToken({ ttlMinutes: 2, signal: AbortSignal.timeout(30_000) }).then(
      (invite) => {
        input.value = invite.link
        void join()
      },
      (error: Error) => {
        message.className = 'error'
        message.textContent = error.message
        button.disabled = false
      },
    )
  }
  return view
}
