import type { TrackView } from '../../crdt/index.ts'
import { MEDIA_PATH } from '../stream/messages.ts'
import { byId } from './dom.ts'
import { PlayQueue, type Sequence } from './play-queue.ts'

/**
 * The player: an <audio> element in the bar and a <video> element on a stage above the list,
 * whose source is `media/<trackId>`, which the service worker answers (stream/). The queue is
 * the list a track was started from (play-queue.ts: shuffle, repeat). The Media Session API
 * gives media keys, the lock screen and notifications the same controls.
 */
export class Player {
  readonly audio = byId<HTMLAudioElement>('audio')
  readonly video = byId<HTMLVideoElement>('video')
  readonly queue = new PlayQueue<TrackView>()
  readonly #stage = byId<HTMLElement>('stage')
  readonly #bar = byId<HTMLElement>('player')
  readonly #title = byId<HTMLElement>('now-title')
  readonly #artist = byId<HTMLElement>('now-artist')
  readonly #error = byId<HTMLElement>('now-error')
  readonly #shuffle = byId<HTMLButtonElement>('shuffle')
  readonly #repeat = byId<HTMLButtonElement>('repeat')
  #counted = false
  onTrackChange: (track: TrackView | undefined) => void = () => {}
  /** A track counts as played once, when half of it (at most 30 s) has been heard. */
  onPlayed: (track: TrackView) => void = () => {}

  constructor() {
    for (const element of [this.audio, this.video]) this.#listen(element)
    byId('stage-close').addEventListener('click', () => this.closeVideo())
    byId('prev').addEventListener('click', () => this.previous())
    byId('next').addEventListener('click', () => this.next())
    this.#shuffle.addEventListener('click', () => this.toggleShuffle())
    this.#repeat.addEventListener('click', () => this.cycleRepeat())
    this.#mediaSessionActions()
  }

  get current(): TrackView | undefined {
    return this.queue.current
  }

  /** The element playing the current item. */
  get element(): HTMLMediaElement {
    return this.current?.mediaType === 'video' ? this.video : this.audio
  }

  /** Plays `track` from `list` (where it is at `index`, when the caller knows). */
  play(track: TrackView, list: Sequence<TrackView> = [track], index?: number): void {
    this.queue.start(list, track.id, index)
    this.#load()
  }

  next(): void {
    if (this.queue.next() !== undefined) this.#load()
  }

  /** Back to the start of the track when it has played a while, else the previous one. */
  previous(): void {
    if (this.element.currentTime > 3) {
      this.element.currentTime = 0
      return
    }
    if (this.queue.previous() !== undefined) this.#load()
  }

  togglePlay(): void {
    const element = this.element
    if (element.getAttribute('src') === null) return
    if (element.paused) void element.play().catch(() => {})
    else element.pause()
  }

  seekBy(seconds: number): void {
    const element = this.element
    if (!Number.isFinite(element.duration)) return
    element.currentTime = Math.min(Math.max(0, element.currentTime + seconds), element.duration)
  }

  toggleShuffle(): void {
    this.queue.setShuffle(!this.queue.shuffle)
    this.#shuffle.setAttribute('aria-pressed', String(this.queue.shuffle))
  }

  cycleRepeat(): void {
    this.#repeat.dataset.mode = this.queue.cycleRepeat()
  }

  /** Stops a video and gives the list its place back. */
  closeVideo(): void {
    this.video.pause()
    this.#stage.hidden = true
  }

  #listen(element: HTMLMediaElement): void {
    element.addEventListener('ended', () => {
      if (element !== this.element) return
      const next = this.queue.next(true)
      if (next === undefined) return
      if (next === this.current && element.getAttribute('src') !== null && this.queue.repeat === 'one') {
        element.currentTime = 0
        void element.play().catch(() => {})
      } else this.#load()
    })
    element.addEventListener('error', () => {
      if (element !== this.element) return
      const error = element.error
      this.#error.textContent =
        error === null ? '' : `cannot play: ${error.message || `media error ${error.code}`}`
    })
    element.addEventListener('playing', () => {
      this.#error.textContent = ''
      if ('mediaSession' in navigator) navigator.mediaSession.playbackState = 'playing'
    })
    element.addEventListener('pause', () => {
      if ('mediaSession' in navigator) navigator.mediaSession.playbackState = 'paused'
    })
    element.addEventListener('timeupdate', () => {
      const track = this.current
      if (track === undefined || element !== this.element || this.#counted) return
      const duration = Number.isFinite(element.duration) ? element.duration : (track.durationSec ?? 0)
      if (duration > 0 && element.currentTime >= Math.min(30, duration / 2)) {
        this.#counted = true
        this.onPlayed(track)
      }
    })
  }

  #load(): void {
    const track = this.current
    if (track === undefined) return
    const element = this.element
    const other = element === this.audio ? this.video : this.audio
    if (other.getAttribute('src') !== null) {
      other.pause()
      other.removeAttribute('src')
      other.load()
    }
    this.#stage.hidden = element !== this.video
    this.#bar.hidden = false
    this.audio.hidden = element !== this.audio
    this.#title.textContent = track.title
    this.#artist.textContent = [track.artists.join(', '), track.album].filter(Boolean).join(' — ')
    this.#error.textContent = ''
    this.#counted = false
    element.src = `${MEDIA_PATH}${encodeURIComponent(track.id)}`
    element.play().catch((error: Error) => {
      // Autoplay refusals and a load replaced by the next one are not errors of ours.
      if (error.name !== 'NotAllowedError' && error.name !== 'AbortError')
        this.#error.textContent = error.message
    })
    if ('mediaSession' in navigator) {
      navigator.mediaSession.metadata = new MediaMetadata({
        title: track.title,
        artist: track.artists.join(', '),
        album: track.album ?? '',
      })
    }
    this.onTrackChange(track)
  }

  #mediaSessionActions(): void {
    if (!('mediaSession' in navigator)) return
    const session = navigator.mediaSession
    const handlers: Array<[MediaSessionAction, MediaSessionActionHandler]> = [
      ['play', () => void this.element.play().catch(() => {})],
      ['pause', () => this.element.pause()],
      ['previoustrack', () => this.previous()],
      ['nexttrack', () => this.next()],
      ['seekbackward', (details) => this.seekBy(-(details.seekOffset ?? 10))],
      ['seekforward', (details) => this.seekBy(details.seekOffset ?? 10)],
      [
        'seekto',
        (details) => {
          if (details.seekTime !== undefined) this.element.currentTime = details.seekTime
        },
      ],
    ]
    for (const [action, handler] of handlers) {
      try {
        session.setActionHandler(action, handler)
      } catch {
        // A browser that does not know this action.
      }
    }
  }
}
