/** Parses each JSON value once; a cached value is reused while the stored string is the same. */
export class ParseCache<T> {
  readonly #decode: (json: string) => T
  readonly #cache = new Map<string, { json: string; value: T }>()

  constructor(decode: (json: string) => T) {
    this.#decode = decode
  }

  get(key: string, json: string): T {
    const hit = this.#cache.get(key)
    if (hit !== undefined && hit.json === json) return hit.value
    const value = this.#decode(json)
    this.#cache.set(key, { json, value })
    return value
  }
}
