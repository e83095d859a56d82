import { deferred } from '@lifeguard/test-kit'

export { deferred, type Deferred } from '@lifeguard/test-kit'

export function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis))
}

/** Lets every queued microtask and one turn of the event loop run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** True if `promise` is still pending after a turn of the event loop. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  const settled = await Promise.race([promise.then(() => 'settled', () => 'settled'), turn().then(() => marker)])
  return settled === marker
}

/** Rejects if `promise` has not settled after `millis` (a guard, so a missing event fails instead of hanging). */
export function within<T>(promise: Promise<T>, millis: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${millis}ms waiting for ${what}`)), millis)
  })
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer))
}

/** Resolves with the first payload given to the returned listener. */
export function once<T>(): { listener: (payload: T) => void; next: Promise<T> } {
  const { promise, resolve } = deferred<T>()
  return { listener: (payload) => resolve(payload), next: promise }
}
