import { h } from './dom.ts'

export interface MenuItem {
  label: string
  run(): void
}

let open: HTMLElement | undefined

/** A small popup menu under `anchor`; closes on a choice, a click elsewhere or Escape. */
export function showMenu(anchor: HTMLElement, items: MenuItem[]): void {
  closeMenu()
  const menu = h('div', { class: 'menu', role: 'menu', 'data-testid': 'menu' })
  if (items.length === 0) menu.append(h('div', { class: 'muted menu-empty' }, 'No playlists yet'))
  for (const item of items) {
    const button = h('button', { type: 'button', role: 'menuitem' }, item.label)
    button.addEventListener('click', (event) => {
      event.stopPropagation()
      closeMenu()
      item.run()
    })
    menu.append(button)
  }
  const rect = anchor.getBoundingClientRect()
  menu.style.top = `${Math.min(rect.bottom, window.innerHeight - 40 * (items.length + 1))}px`
  menu.style.right = `${Math.max(8, window.innerWidth - rect.right)}px`
  document.body.append(menu)
  open = menu
  setTimeout(() => {
    document.addEventListener('click', closeMenu, { once: true })
    document.addEventListener('keydown', onKey)
  })
}

function onKey(event: KeyboardEvent): void {
  if (event.key === 'Escape') closeMenu()
}

export function closeMenu(): void {
  open?.remove()
  open = undefined
  document.removeEventListener('keydown', onKey)
}
