import type { TrackView } from '../../crdt/index.ts'
import { MEDIA_PATH } from '../stream/messages.ts'
import { byId } from './dom.ts'

/**
 * The player bar: one <audio> element whose source is `media/<trackId>`, which the service
 * worker answers (stream/…). Plays the next track of the queue when one ends.
 */
export class Player {
  readonly audio = byId<HTMLAudioElement>('audio')
  readonly #bar = byId<HTMLElement>('player')
  readonly #title = byId<HTMLElement>('now-title')
  readonly #artist = byId<HTMLElement>('now-artist')
  readonly #error = byId<HTMLElement>('now-error')
  #queue: TrackView[] = []
  #index = -1
  onTrackChange: (track: TrackView | undefined) => void = () => {}
  /** A track counts as played once, when half of it (at most 30 s) has been heard. */
  onPlayed: (track: TrackView) => void = () => {}
  #counted = false

  constructor() {
    this.audio.addEventListener('ended', () => this.next())
    this.audio.addEventListener('error', () => {
      const error = this.audio.error
      this.#error.textContent =
        error === null ? '' : `cannot play: ${error.message || `media error ${error.code}`}`
    })
    this.audio.addEventListener('playing', () => {
      this.#error.textContent = ''
    })
    this.audio.addEventListener('timeupdate', () => {
      const track = this.current
      const duration = Number.isFinite(this.audio.duration) ? this.audio.duration : (track?.durationSec ?? 0)
      if (track === undefined || this.#counted || duration === 0) return
      if (this.audio.currentTime >= Math.min(30, duration / 2)) {
        this.#counted = true
        this.onPlayed(track)
      }
    })
  }

  get current(): TrackView | undefined {
    return this.#queue[this.#index]
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

  #load(): void {
    const track = this.current
    if (track === undefined) return
    this.#bar.hidden = false
    this.#title.textContent = track.title
    this.#artist.textContent = [track.artists.join(', '), track.album].filter(Boolean).join(' — ')
    this.#error.textContent = ''
    this.#counted = false
    this.audio.src = `${MEDIA_PATH}${encodeURIComponent(track.id)}`
    this.audio.play().catch((error: Error) => {
      // Autoplay refusals are not errors of ours; anything else is shown.
      if (error.name !== 'NotAllowedError' && error.name !== 'AbortError')
        this.#error.textContent = error.message
    })
    this.onTrackChange(track)
  }
}
