import { OperationAbortedError } from '@lifeguard/core'

/**
 * A handle's end, as its calls still waiting for a slot see it: disposing the handle takes them out of the
 * admission queue (the slot goes to the next waiter) and refuses them. Its operation's signal cannot do that:
 * core aborts it at the end only for waits in core's own pool, so a queued write would otherwise still go out
 * once a slot freed, after its request had failed.
 */
export class HandleEnd {
  readonly #refusal: () => Error
  // What each call waiting now does at the end: abort its own wait.
  readonly #waits = new Set<() => void>()
  #reason: DOMException | undefined

  /** @param refusal - makes the error a call refused by the end gets (one per call) */
  constructor(refusal: () => Error) {
    this.#refusal = refusal
  }

  /** True once `end()` was called. */
  get ended(): boolean {
    return this.#reason !== undefined
  }

  /** The error for a call refused because the handle ended. */
  refusal(): Error {
    return this.#refusal()
  }

  /**
   * Waits with `wait`, given a signal that aborts when `own` (the operation's) does or this end comes. The
   * signal is the wait's own, its listeners removed when it settles: a handle that outlives many operations
   * (one of its own, following whichever is current) keeps nothing of theirs.
   */
  async during<T>(own: AbortSignal | undefined, wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const joined = new AbortController()
    const onOwn = (): void => joined.abort(own?.reason)
    const onEnd = (): void => joined.abort(this.#reason)
    if (this.#reason !== undefined) onEnd()
    else if (own?.aborted === true) onOwn()
    own?.addEventListener('abort', onOwn, { once: true })
    this.#waits.add(onEnd)
    try {
      return await wait(joined.signal)
    } finally {
      own?.removeEventListener('abort', onOwn)
      this.#waits.delete(onEnd)
    }
  }

  /** True for the admission queue's refusal of a wait that this end cut short (not the operation's abort). */
  cut(error: unknown): boolean {
    return this.#reason !== undefined && error instanceof OperationAbortedError && error.cause === this.#reason
  }

  /** Ends it: waits of its calls leave the queue now. Idempotent. */
  end(): void {
    if (this.#reason !== undefined) return
    this.#reason = new DOMException('The handle was disposed.', 'AbortError')
    for (const abort of this.#waits) abort()
  }
}
