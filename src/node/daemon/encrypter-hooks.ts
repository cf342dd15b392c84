import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface'

export interface EncrypterHooks {
  /** The transport's connection, before the encrypter secures it (it may be patched in place). */
  before?<S extends MessageStream>(connection: S): S
  /** The secured connection the encrypter returns (it may be patched in place). */
  after?<S extends MessageStream>(connection: S): S
}

/** An encrypter factory whose encrypters pass each connection through `hooks` on both directions. */
export function withEncrypterHooks<C, E>(
  factory: (components: C) => ConnectionEncrypter<E>,
  hooks: EncrypterHooks,
): (components: C) => ConnectionEncrypter<E> {
  const before = hooks.before ?? ((connection) => connection)
  const after = hooks.after ?? ((connection) => connection)
  return (components) => {
    const encrypter = factory(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (connection, options) => {
      const secured = await secureInbound(before(connection), options)
      secured.connection = after(secured.connection)
      return secured
    }
    encrypter.secureOutbound = async (connection, options) => {
      const secured = await secureOutbound(before(connection), options)
      secured.connection = after(secured.connection)
      return secured
    }
    return encrypter
  }
}
