import type { Clock } from '@lifeguard/core/adapter'

/**
 * Tells a failure from those reported lately: the same one (name, message, code, and its cause's) within
 * `millis` is a repeat.
 */
export class RepeatedFailures {
  readonly #clock: Pick<Clock, 'now'>
  readonly #millis: number
  // When each failure was last reported (a few kinds at most: a policy's, a budget's, a resize's).
  readonly #reportedAt = new Map<string, number>()

  constructor(clock: Pick<Clock, 'now'>, millis: number) {
    this.#clock = clock
    this.#millis = millis
  }

  isNew(error: unknown): boolean {
    let key: string
    try {
      key = keyOf(error, 2)
    } catch {
      // A value whose message or conversion throws: never taken for a repeat.
      return true
    }
    const now = this.#clock.now()
    const last = this.#reportedAt.get(key)
    if (last !== undefined && now - last < this.#millis) return false
    if (this.#reportedAt.size >= 32) this.#reportedAt.clear()
    this.#reportedAt.set(key, now)
    return true
  }
}

// What tells two failures apart: name, message and code, then its cause's (a timeout whose cause went from a
// refused connection to a refused password is news); anything else as JSON (`{ code: 'EAUTH' }`).
function keyOf(error: unknown, depth: number): string {
  if (!(error instanceof Error)) return typeof error === 'object' && error !== null ? JSON.stringify(error) : String(error)
  const code = (error as { code?: unknown }).code
  const own = `${error.name}: ${error.message}${code === undefined ? '' : ` [${String(code)}]`}`
  return depth > 0 && error.cause !== undefined ? `${own} <- ${keyOf(error.cause, depth - 1)}` : own
}
