import type { CloudlessNode } from '../daemon/node.ts'

/**
 * The node and everything it needs (libp2p, Yjs, LevelDB...), loaded when it starts rather than when
 * a command is looked up: `cloudless start --help` answered in 1.2 s, most of it imports.
 */
export async function loadNode(): Promise<typeof CloudlessNode> {
  return (await import('../daemon/node.ts')).CloudlessNode
}
