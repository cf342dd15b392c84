import { IndexeddbPersistence } from 'y-indexeddb'
import * as Y from 'yjs'
import { Catalog } from '../../crdt/index.ts'

const DB_NAME = 'cloudless-catalog'

/**
 * The browser's own copy of the catalog, kept in IndexedDB by y-indexeddb: the page opens with
 * the library at once, also offline, and catalog sync brings only what changed.
 *
 * y-indexeddb listens to the document's updates from the start, and while anything listens,
 * Yjs encodes every transaction as an update message, the one that loads the stored catalog too:
 * with 100k tracks that is a 39 MB update encoded for nothing (y-indexeddb skips its own), ~0.2 s
 * of the page's start (bench:web). So it listens only once the stored catalog is in; no other
 * change can reach the document before (nothing else holds it yet).
 */
export async function openCatalog(): Promise<{ catalog: Catalog; persistence: IndexeddbPersistence }> {
  const doc = new Y.Doc()
  const persistence = new IndexeddbPersistence(DB_NAME, doc)
  doc.off('update', persistence._storeUpdate)
  await persistence.whenSynced
  doc.on('update', persistence._storeUpdate)
  performance.mark('cloudless:catalog-open')
  return { catalog: new Catalog(doc), persistence }
}
