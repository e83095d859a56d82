// Operations that follow one caller's signal do so behind a single listener on it. Jobs often share one
// shutdown signal; a listener per operation passed Node's limit of 10 and printed a leak warning that the
// application could do nothing about.

interface Followers {
  readonly callbacks: Set<() => void>
  readonly listener: () => void
}

const followersOf = new WeakMap<AbortSignal, Followers>()

/** Calls `onAbort` once when `signal` aborts, until `unfollowSignal` is called with the same function. */
export function followSignal(signal: AbortSignal, onAbort: () => void): void {
  let followers = followersOf.get(signal)
  if (followers === undefined) {
    const callbacks = new Set<() => void>()
    const listener = () => {
      followersOf.delete(signal)
      for (const callback of callbacks) {
        try {
          callback()
        } catch (error) {
          // As separate listeners would: the others still run, and the failure is thrown where nothing catches it.
          queueMicrotask(() => {
            throw error
          })
        }
      }
    }
    followers = { callbacks, listener }
    followersOf.set(signal, followers)
    signal.addEventListener('abort', listener, { once: true })
  }
  followers.callbacks.add(onAbort)
}

/** Stops following; the signal's listener goes when its last follower does. */
export function unfollowSignal(signal: AbortSignal, onAbort: () => void): void {
  const followers = followersOf.get(signal)
  if (followers === undefined) return
  followers.callbacks.delete(onAbort)
  if (followers.callbacks.size > 0) return
  followersOf.delete(signal)
  signal.removeEventListener('abort', followers.listener)
}
