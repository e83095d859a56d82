import { AsyncLocalStorage } from 'node:async_hooks'

// One storage per process, even when two copies of this package are installed (a nested
// node_modules, a bundled copy): every copy finds the same instance under a registered symbol.
const key = Symbol.for('lifeguard.operation-context.storage')
const holder = globalThis as typeof globalThis & { [key]?: AsyncLocalStorage<unknown> }

/** @internal the process-wide storage that carries the current operation context. */
export const contextStorage: AsyncLocalStorage<unknown> = (holder[key] ??= new AsyncLocalStorage<unknown>())

/**
 * Runs `fn` outside any operation, and so whatever it schedules (timers, immediates, promises). Background
 * work an adapter starts from a driver's event (a refill after a lost connection, a health ping) would
 * otherwise run in the operation whose I/O happened to fire that event, long after it ended: its events
 * and logs would name that request, and the request's context would be kept alive.
 */
export function outsideOperations<T>(fn: () => T): T {
  return contextStorage.getStore() === undefined ? fn() : contextStorage.exit(fn)
}
