import { OperationAbortedError } from '@lifeguard/core'

/**
 * A handle's end, as its calls still waiting for a slot see it: disposing the handle takes them out of the
 * admission queue (the slot goes to the next waiter) and refuses them. Its operation's signal cannot do that:
 * core aborts it at the end only for waits in core's own pool, so a queued write would otherwise still go out
 * once a slot freed, after its request had failed. Nothing is allocated until a call has to wait.
 */
export class HandleEnd {
  readonly #refusal: () => Error
  #controller: AbortController | undefined
  // The signal last joined with an operation's: a handle serves one operation, so one join is made per handle.
  #joined: { own: AbortSignal; signal: AbortSignal } | undefined
  #ended = false

  /** @param refusal - makes the error a call refused by the end gets (one per call) */
  constructor(refusal: () => Error) {
    this.#refusal = refusal
  }

  /** True once `end()` was called. */
  get ended(): boolean {
    return this.#ended
  }

  /** The error for a call refused because the handle ended. */
  refusal(): Error {
    return this.#refusal()
  }

  /** What ends a wait: `own` (the operation's signal, if any) or this end, whichever comes first. */
  signal(own: AbortSignal | undefined): AbortSignal {
    const mine = (this.#controller ??= new AbortController()).signal
    if (own === undefined) return mine
    // Joined once per operation signal: the queue adds an abort listener per signal it is given.
    if (this.#joined?.own !== own) this.#joined = { own, signal: AbortSignal.any([own, mine]) }
    return this.#joined.signal
  }

  /** True for the admission queue's refusal of a wait that this end cut short (not the operation's abort). */
  cut(error: unknown): boolean {
    const signal = this.#controller?.signal
    return signal?.aborted === true && error instanceof OperationAbortedError && error.cause === signal.reason
  }

  /** Ends it: waits of its calls leave the queue now. Idempotent. */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#controller?.abort(new DOMException('The handle was disposed.', 'AbortError'))
  }
}
