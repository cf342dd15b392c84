/** Exit codes: 0 ok, 1 failure, 2 usage. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** A mistake in how the command was called; printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}
