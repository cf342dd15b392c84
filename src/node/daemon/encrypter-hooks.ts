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
    const hooked =
      (secure: ConnectionEncrypter<E>['secureInbound']): ConnectionEncrypter<E>['secureInbound'] =>
      async (connection, options) => {
        const secured = await secure(before(connection), options)
        secured.connection = after(secured.connection)
        return secured
      }
    encrypter.secureInbound = hooked(encrypter.secureInbound.bind(encrypter))
    encrypter.secureOutbound = hooked(encrypter.secureOutbound.bind(encrypter))
    return encrypter
  }
}
