import { contextStorage } from './context-storage.js'
import { DisposedError } from './errors.js'
import type { OperationContext } from './operation-context.js'
import type { OptionRule } from './options.js'

// What core's pool engines and the adapters know of an operation beyond its public API: its queued
// checkouts, being told when it aborts, and whether it is still running.

/**
 * @internal Where core's pool engine counts an operation's queued checkouts (see `countWait`) and asks to be
 * told when it aborts (see `watchAbort`): cheaper than an AbortSignal per waiting request. Registered
 * symbols: with two copies of this package installed, one copy's pool engine waits on another copy's contexts.
 */
export const waitCounter = Symbol.for('lifeguard.operation-context.waits')
/** @internal See `waitCounter`. */
export const abortWatch = Symbol.for('lifeguard.operation-context.watch')

/** @internal called with the operation and the reason when it aborts. */
export type AbortWatcher = (context: OperationContext, reason: unknown) => void

/**
 * @internal core's pool engine counts an operation's queued checkouts (`+1` when one starts waiting,
 * `-1` when it leaves the queue), so that disposing the operation aborts them, and only then.
 */
export function countWait(context: OperationContext, delta: 1 | -1): void {
  ;(context as unknown as { [waitCounter]: (delta: number) => void })[waitCounter](delta)
}

/**
 * @internal calls `watcher` (once per watcher, however often it is added) when the operation aborts,
 * for whatever reason: `abort()`, the caller's signal, the deadline, or disposal while waiting.
 */
export function watchAbort(context: OperationContext, watcher: AbortWatcher): void {
  ;(context as unknown as { [abortWatch]: (watcher: AbortWatcher) => void })[abortWatch](watcher)
}

/** @internal One reason for every operation that ended with checkouts still waiting (made once: errors are costly). */
export const operationEnded = new DisposedError('The operation has ended (its context was disposed) while it waited.')

/**
 * True when `context` aborted only because it ended with a checkout still waiting (see `dispose()`): that
 * abort is for the waiting checkouts, not for work already running. A statement the operation left running
 * (unawaited) runs to its end, as it does when nothing waits, and its disposal waits for it.
 *
 * @internal
 */
export function abortedByItsEnd(context: OperationContext): boolean {
  return context.aborted && context.signal.reason === operationEnded
}

/**
 * The rule for an argument that must be an `OperationContext`: for the adapters' handle factories. Known by
 * the engine's registered hooks rather than `instanceof`, so a context from another copy of this package
 * passes.
 */
export const contextRule: OptionRule = {
  type: 'custom',
  expected: 'an OperationContext',
  check: (value: unknown) => typeof value === 'object' && value !== null && typeof (value as { [abortWatch]?: unknown })[abortWatch] === 'function',
}

/**
 * @internal The operation running now, unless it has ended (its `dispose()` has finished): what a pool takes for
 * the operation of a call that names none. Work that outlives its operation (a library's timer first set in a
 * request keeps that request's context for good, and so do its later queries) is no part of it: it must be
 * neither refused for that request's abort nor counted as that request's. Its disposers, which run while it
 * is being disposed, still are.
 */
export function liveOperation(): OperationContext | undefined {
  const context = contextStorage.getStore() as OperationContext | undefined
  // A context of another installed copy of core without `ended` reads as live.
  return context === undefined || context.ended === true ? undefined : context
}

/**
 * @internal True when work for `source` is refused for its abort: it aborted, and, an operation, is not being
 * disposed. An aborted operation's disposers still get connections: their cleanup (a lock row released, an
 * audit line written) is what it needs most. A context may come from another installed copy of core: it is
 * told from a signal by the signal's class.
 */
export function refusedForAbort<S extends AbortSignal | OperationContext>(source: S | undefined): source is S {
  if (source === undefined || !source.aborted) return false
  return source instanceof AbortSignal || !source.disposed
}
