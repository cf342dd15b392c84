import { IndexeddbPersistence } from 'y-indexeddb'
import * as Y from 'yjs'
import { Catalog } from '../../crdt/index.ts'

const DB_NAME = 'cloudless-catalog'

/**
 * The browser's own copy of the catalog, kept in IndexedDB by y-indexeddb: the page opens with
 * the library at once, also offline, and catalog sync brings only what changed.
 */
export async function openCatalog(): Promise<{ catalog: Catalog; persistence: IndexeddbPersistence }> {
  const doc = new Y.Doc()
  const persistence = new IndexeddbPersistence(DB_NAME, doc)
  await persistence.whenSynced
  performance.mark('cloudless:catalog-open')
  return { catalog: new Catalog(doc), persistence }
}
