import type { Clock } from '@lifeguard/core/adapter'

/** How long a server that failed, or did not match the target, is tried after the others (like pgjdbc's hostRecheckSeconds). */
export const HOST_RECHECK_MILLIS = 10_000

/**
 * The order in which to try a pool's servers: as given (libpq's order), except that servers which
 * failed or did not match within the last `HOST_RECHECK_MILLIS` come last. After a failover the pool
 * then goes straight to the new primary instead of first waiting on a server that is gone.
 */
export class HostOrder<H> {
  readonly #hosts: readonly H[]
  readonly #clock: Clock
  /** Per host: until when it is tried last. */
  readonly #demotedUntil: number[]

  constructor(hosts: readonly H[], clock: Clock) {
    this.#hosts = hosts
    this.#clock = clock
    this.#demotedUntil = hosts.map(() => 0)
  }

  /** The hosts to try now, best first. */
  order(): readonly H[] {
    const now = this.#clock.now()
    if (this.#demotedUntil.every((until) => until <= now)) return this.#hosts
    const fresh = this.#hosts.filter((_, index) => (this.#demotedUntil[index] as number) <= now)
    const demoted = this.#hosts.filter((_, index) => (this.#demotedUntil[index] as number) > now)
    return [...fresh, ...demoted]
  }

  /** Records how a host did: a match clears its record, a failure or mismatch demotes it for a while. */
  record(host: H, matched: boolean): void {
    const index = this.#hosts.indexOf(host)
    if (index >= 0) this.#demotedUntil[index] = matched ? 0 : this.#clock.now() + HOST_RECHECK_MILLIS
  }
}
