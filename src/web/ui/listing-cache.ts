import type * as Y from 'yjs'
import type { Catalog } from '../../crdt/index.ts'
import { UserData } from '../../crdt/index.ts'
import { idbGet, idbPut } from '../peer/idb.ts'

/**
 * The order of "All tracks", kept in IndexedDB so that the next page load shows the live list
 * without sorting the whole catalog first (bench:web: decoding and sorting 100k tracks takes
 * 1-2 s; reading this back takes a few ms).
 *
 * The order is valid for exactly the catalog it was made from. What decides it: the value of every
 * folder entry of the `files` map and every user edit (a title fix moves a track), and the
 * collation of the browser's locale. A Yjs map value never changes in place: writing a key makes a
 * new item with a new id (client, clock), so the list of (key, item id) pairs of those two maps
 * names their content exactly. That list is the cache's key; ratings, favourites and play counts
 * do not change the order and are read live with every row.
 */

const KEY = 'all-tracks'
const VERSION = 1

export interface ListingCache {
  version: number
  locale: string
  fingerprint: string
  /** Track ids in display order, one a line. */
  order: string
}

function mapFingerprint(map: Pick<Y.Map<unknown>, '_map'>): string {
  const lines: string[] = []
  for (const [key, item] of map._map)
    if (!item.deleted) lines.push(`${key}\t${item.id.client}.${item.id.clock}`)
  return lines.sort().join('\n')
}

/** What the order of all tracks depends on, as one string (see above). */
export function listingFingerprint(catalog: Catalog): string {
  return `${mapFingerprint(catalog.files)}\n\n${mapFingerprint(UserData.of(catalog).edits)}`
}

export function collationLocale(): string {
  return new Intl.Collator().resolvedOptions().locale
}

/** The kept order, if any; never throws (a missing or broken cache only costs the slow path). */
export async function readListingCache(): Promise<ListingCache | undefined> {
  try {
    const cache = await idbGet<ListingCache>('listing', KEY)
    if (cache === undefined || cache.version !== VERSION || typeof cache.order !== 'string') return undefined
    return cache
  } catch {
    return undefined
  }
}

/** The order of `catalog`'s tracks, if the cache was made from this very catalog. */
export function cachedOrder(cache: ListingCache | undefined, catalog: Catalog): string[] | undefined {
  if (cache === undefined || cache.locale !== collationLocale()) return undefined
  if (cache.fingerprint !== listingFingerprint(catalog)) return undefined
  return cache.order === '' ? [] : cache.order.split('\n')
}

export async function writeListingCache(fingerprint: string, order: readonly string[]): Promise<void> {
  const cache: ListingCache = {
    version: VERSION,
    locale: collationLocale(),
    fingerprint,
    order: order.join('\n'),
  }
  await idbPut('listing', KEY, cache)
}
