/**
 * What the service worker and the page say to each other (over a MessageChannel per request):
 * the worker answers the media element's Range requests; the page, which runs the libp2p node,
 * finds the track's blocks (its cache, or a device that holds the file) and verifies them.
 */

/** The path the service worker answers: `<app>/media/<trackId>`. The node serves no such path. */
export const MEDIA_PATH = 'media/'
/** Cover art: `<app>/art/<coverId>` (the node's own `/cover/` is not used by the app). */
export const ART_PATH = 'art/'

/** What is asked for: a track's file, or a cover image. */
export type BlobKind = 'track' | 'cover'

export type BridgeRequest =
  | { type: 'open'; kind: BlobKind; id: string }
  | { type: 'block'; kind: BlobKind; id: string; index: number }

export interface OpenReply {
  type: 'open'
  size: number
  blockSize: number
  mime: string
  contentId: string
}

export interface BlockReply {
  type: 'block'
  bytes: ArrayBuffer
}

export interface ErrorReply {
  type: 'error'
  /** The error's class name (TrackNotFoundError, NoHolderError, ...). */
  name: string
  message: string
}

export type BridgeReply = OpenReply | BlockReply | ErrorReply
