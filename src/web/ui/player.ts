import type { TrackView } from '../../crdt/index.ts'
import { MEDIA_PATH } from '../stream/messages.ts'
import { byId } from './dom.ts'

/**
 * The player: an <audio> element in the bar and a <video> element on a stage above the list,
 * whose source is `media/<trackId>`, which the service worker answers (stream/). Plays the next
 * item of the queue when one ends.
 */
export class Player {
  readonly audio = byId<HTMLAudioElement>('audio')
  readonly video = byId<HTMLVideoElement>('video')
  readonly #stage = byId<HTMLElement>('stage')
  readonly #bar = byId<HTMLElement>('player')
  readonly #title = byId<HTMLElement>('now-title')
  readonly #artist = byId<HTMLElement>('now-artist')
  readonly #error = byId<HTMLElement>('now-error')
  #queue: TrackView[] = []
  #index = -1
  #counted = false
  onTrackChange: (track: TrackView | undefined) => void = () => {}
  /** A track counts as played once, when half of it (at most 30 s) has been heard. */
  onPlayed: (track: TrackView) => void = () => {}

  constructor() {
    for (const element of [this.audio, this.video]) this.#listen(element)
    byId('stage-close').addEventListener('click', () => this.closeVideo())
  }

  /** Stops a video and gives the list its place back. */
  closeVideo(): void {
    this.video.pause()
    this.#stage.hidden = true
  }

  get current(): TrackView | undefined {
    return this.#queue[this.#index]
  }

  /** The element playing the current item. */
  get element(): HTMLMediaElement {
    return this.current?.mediaType === 'video' ? this.video : this.audio
  }

  play(track: TrackView, queue: TrackView[] = [track]): void {
    this.#queue = queue
    this.#index = Math.max(
      0,
      queue.findIndex((t) => t.id === track.id),
    )
    this.#load()
  }

  next(): void {
    if (this.#index + 1 >= this.#queue.length) return
    this.#index++
    this.#load()
  }

  previous(): void {
    if (this.#index <= 0) return
    this.#index--
    this.#load()
  }

  #listen(element: HTMLMediaElement): void {
    element.addEventListener('ended', () => this.next())
    element.addEventListener('error', () => {
      if (element !== this.element) return
      const error = element.error
      this.#error.textContent =
        error === null ? '' : `cannot play: ${error.message || `media error ${error.code}`}`
    })
    element.addEventListener('playing', () => {
      this.#error.textContent = ''
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
    this.onTrackChange(track)
  }
}
