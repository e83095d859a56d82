import { setTimeout as delay } from 'node:timers/promises'

/** A promise with its resolve function outside. */
export class Deferred<T = void> {
  readonly promise: Promise<T>
  resolve!: (value: T) => void
  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolve = resolve
    })
  }

  /**
   * The promise, or a rejection naming `what` after `limitMillis`, so that a broken adapter fails the test
   * instead of hanging it. The limit only bounds a failing test.
   */
  within(what: string, limitMillis = 5000): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const giveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Gave up waiting for: ${what}`)), limitMillis)
    })
    return Promise.race([this.promise, giveUp]).finally(() => clearTimeout(timer))
  }
}

/** Deferreds created on first use, by key (a request id): either side may come first. */
export class Signals {
  readonly #all = new Map<string, Deferred>()
  get(key: string): Deferred {
    let deferred = this.#all.get(key)
    if (deferred === undefined) this.#all.set(key, (deferred = new Deferred()))
    return deferred
  }
}

/**
 * Polls `condition` until it holds. The limit is generous: it only bounds a failing test, nothing is
 * asserted about how long it took.
 *
 * @throws {Error} naming `what` when it does not hold within `limitMillis`
 */
export async function waitFor(what: string, condition: () => boolean, limitMillis = 5000): Promise<void> {
  const giveUpAt = Date.now() + limitMillis
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`Gave up waiting for: ${what}`)
    await delay(2)
  }
}

/** Resolves when `signal` aborts, or after `limitMillis` (so a broken adapter fails instead of hanging). */
export function aborted(signal: AbortSignal, limitMillis = 5000): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, limitMillis)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })
}

export { delay }
