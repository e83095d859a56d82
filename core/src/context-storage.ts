import { AsyncLocalStorage } from 'node:async_hooks'

// One storage per process, even when two copies of this package are installed (a nested
// node_modules, a bundled copy): every copy finds the same instance under a registered symbol.
const key = Symbol.for('lifeguard.operation-context.storage')
const holder = globalThis as typeof globalThis & { [key]?: AsyncLocalStorage<unknown> }

/** @internal the process-wide storage that carries the current operation context. */
export const contextStorage: AsyncLocalStorage<unknown> = (holder[key] ??= new AsyncLocalStorage<unknown>())
