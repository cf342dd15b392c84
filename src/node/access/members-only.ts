import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { NotAMemberError } from './errors.ts'

/**
 * Wraps a protocol handler so that streams from non-members are aborted before it runs. Every
 * handler except pairing must refuse strangers: the gater lets them connect while an invite is open.
 *
 * (Not libp2p's registrar.use() middleware: in libp2p 3.3 each inbound stream appends the handler
 * to the registered middleware array, so it would run once more per stream.)
 */
export function membersOnly(
  membership: { isMember(peerId: string): boolean },
  handler: StreamHandler,
): StreamHandler {
  return (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    if (!membership.isMember(peer)) {
      stream.abort(new NotAMemberError(`${peer} is not a device of this library`))
      return
    }
    return handler(stream, connection)
  }
}
