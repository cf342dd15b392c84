import type { Player } from './player.ts'

/**
 * Keyboard shortcuts: Space play/pause, N next, P previous, ←/→ 10 s back/forward, S shuffle,
 * R repeat, / search. Not while typing in a field.
 */
export function keyboardShortcuts(player: Player, search: HTMLInputElement): () => void {
  const onKey = (event: KeyboardEvent): void => {
    if (event.ctrlKey || event.metaKey || event.altKey) return
    const target = event.target as HTMLElement | null
    if (target?.closest('input, textarea, select, [contenteditable]') !== null && target !== null) return
    const actions: Record<string, () => void> = {
      ' ': () => player.togglePlay(),
      n: () => player.next(),
      p: () => player.previous(),
      ArrowRight: () => player.seekBy(10),
      ArrowLeft: () => player.seekBy(-10),
      s: () => player.toggleShuffle(),
      r: () => player.cycleRepeat(),
      '/': () => search.focus(),
    }
    const action = actions[event.key]
    if (action === undefined) return
    event.preventDefault()
    action()
  }
  document.addEventListener('keydown', onKey)
  return () => document.removeEventListener('keydown', onKey)
}
