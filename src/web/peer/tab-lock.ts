/**
 * One tab at a time runs this browser's peer: two tabs would be two libp2p nodes with one
 * identity, and each device keeps one sync stream per peer id, so they would keep replacing each
 * other's. Resolves true when this tab holds the lock (until it closes).
 */
export function acquireTabLock(name = 'cloudless-peer'): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    navigator.locks
      .request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null)
        // Held for the life of the page.
        return lock === null ? undefined : new Promise<void>(() => {})
      })
      .catch(reject)
  })
}
