import { UserData } from '../crdt/index.ts'
import { inviteFromFragment } from './peer/invite-link.ts'
import { BROWSER_TRANSPORTS, type BrowserTransport } from './peer/libp2p.ts'
import { offerToken, tokenFromFragment } from './peer/node-api.ts'
import { WebPeer } from './peer/peer.ts'
import { acquireTabLock } from './peer/tab-lock.ts'
import { BlockSource } from './stream/block-source.ts'
import { BlockStore } from './stream/block-store.ts'
import { answerServiceWorker, startServiceWorker } from './stream/bridge.ts'
import { Pins } from './stream/pins.ts'
import { BrowseView } from './ui/browse-view.ts'
import { byId, h } from './ui/dom.ts'
import { showFirstScreen } from './ui/first-screen.ts'
import { LibraryModel } from './ui/library-model.ts'
import { LibraryView } from './ui/library-view.ts'
import { type ListingCache, readListingCache } from './ui/listing-cache.ts'
import { pairView } from './ui/pair-view.ts'
import { Player } from './ui/player.ts'
import { keyboardShortcuts } from './ui/shortcuts.ts'
import { isBrowse, Sidebar } from './ui/sidebar.ts'

/**
 * The web app: this browser is a device of the library (peer/), streams through its service
 * worker (stream/), and shows the library (ui/).
 */
async function main(): Promise<void> {
  const invite = inviteFromFragment(location.hash)
  const localToken = tokenFromFragment(location.hash)
  // Invites and the node's token leave the address bar (and the history) at once.
  if (invite !== undefined || localToken !== undefined)
    history.replaceState(null, '', location.pathname + location.search)
  // A link opened in a tab that shows the app already changes only the fragment: start over.
  addEventListener('hashchange', () => {
    if (inviteFromFragment(location.hash) !== undefined || tokenFromFragment(location.hash) !== undefined)
      location.reload()
  })
  const status = byId<HTMLElement>('status')
  const main = byId<HTMLElement>('main')
  const search = byId<HTMLInputElement>('search')
  if (!(await acquireTabLock())) {
    status.textContent = 'open in another tab'
    main.replaceChildren(
      h(
        'p',
        { class: 'notice', 'data-testid': 'other-tab' },
        'Cloudless is already open in another tab of this browser: use that one.',
      ),
    )
    return
  }
  // The kept order of all tracks, read while the catalog comes out of IndexedDB (listing-cache.ts).
  const listing = readListingCache()
  // The last first screen at once, while the catalog comes out of IndexedDB.
  const first = showFirstScreen()
  if (first !== undefined) {
    main.classList.add('with-sidebar')
    main.replaceChildren(first)
  }
  const [peer] = await Promise.all([WebPeer.start({ ...transportsFromQuery() }), startServiceWorker()])
  if (localToken !== undefined) offerToken(localToken)
  // Pins and the block store need each other: the store keeps pinned blobs, pins fetch through it.
  let pins: Pins | undefined
  const store = await BlockStore.open({
    limitBytes: await cacheLimit(),
    isProtected: (contentId) => pins?.protects(contentId) ?? true,
  })
  const source = new BlockSource(peer, store)
  answerServiceWorker(source)
  pins = await Pins.open(source, (trackId) => peer.catalog.getTrack(trackId)?.contentId)
  // For tests and the curious: the running peer.
  Object.assign(globalThis, { cloudless: peer })

  const showStatus = () => {
    const s = peer.status()
    const devices = s.connected.length === 1 ? '1 device' : `${s.connected.length} devices`
    status.textContent = s.paired
      ? `${s.deviceName} · connected to ${devices}`
      : peer.membership.selfRevoked
        ? `${s.deviceName} · removed from the library by another device`
        : `${s.deviceName} · not paired`
    status.dataset.connected = String(s.connected.length)
    status.dataset.synced = String(s.synced.length)
    status.dataset.deviceId = s.deviceId
    status.dataset.addresses = s.addresses.join(' ')
  }
  peer.addEventListener('status', showStatus)
  peer.membership.addEventListener('self-revoked', showStatus)
  showStatus()

  const showLibrary = (cache?: ListingCache) => {
    const model = new LibraryModel(peer, cache)
    // For tests and the curious: the listing.
    Object.assign(globalThis, { cloudlessLibrary: model })
    const library = new LibraryView(peer, model, pins)
    const browse = new BrowseView(model)
    const sidebar = new Sidebar(peer, pins)
    const player = new Player()
    sidebar.onSelect = (view) => {
      if (isBrowse(view)) {
        browse.show(view.kind)
        main.replaceChildren(sidebar.element, browse.element)
      } else {
        library.show(view)
        main.replaceChildren(sidebar.element, library.element)
      }
    }
    browse.onOpen = (source) => sidebar.select(source)
    library.onSourceGone = () => sidebar.select({ kind: 'all' })
    library.onPlay = (track, queue, index) => player.play(track, queue, index)
    player.onTrackChange = (track) => library.setPlaying(track?.id)
    // Plays are counted per device and add up across devices (user-data.ts).
    player.onPlayed = (track) => UserData.of(peer.catalog).recordPlay(track.id, peer.deviceId)
    keyboardShortcuts(player, search)
    search.hidden = false
    search.addEventListener('input', () => {
      library.search(search.value)
      browse.search(search.value)
    })
    main.classList.add('with-sidebar')
    main.replaceChildren(sidebar.element, library.element)
    showStatus()
  }

  if (peer.paired) {
    showLibrary(await listing)
    return
  }
  main.classList.remove('with-sidebar')
  main.replaceChildren(
    pairView(peer, {
      ...(invite === undefined ? {} : { invite }),
      localToken: localToken !== undefined,
      onJoined: () => showLibrary(),
    }),
  )
}

/**
 * How much of fetched, not pinned, media the browser keeps: a fifth of what the browser lets this
 * site store, at most 2 GB; `?cache-mb=N` overrides it.
 */
async function cacheLimit(): Promise<number> {
  const asked = Number(new URLSearchParams(location.search).get('cache-mb'))
  if (asked > 0) return asked * 1e6
  const quota = (await navigator.storage?.estimate?.().catch(() => undefined))?.quota ?? 1e9
  return Math.min(2e9, quota / 5)
}

/** `?transport=webrtc-direct` or `?transport=websockets`: dial with that transport only. */
function transportsFromQuery(): { transports?: BrowserTransport[] } {
  const wanted = new URLSearchParams(location.search).getAll('transport')
  const transports = BROWSER_TRANSPORTS.filter((t) => wanted.includes(t))
  return transports.length === 0 ? {} : { transports }
}

main().catch((error: Error) => {
  const status = document.getElementById('status')
  if (status !== null) {
    status.textContent = `failed to start: ${error.message}`
    status.className = 'error'
  }
  console.error(error)
})
