import type { Clock } from './clock.js'
import type { OperationContext } from './operation-context.js'
import type { ServiceScope } from './service-scope.js'

// The shapes the service container is made of: what users register and resolve, and what it keeps.

/** How long a service instance lives. */
export type Lifetime = 'singleton' | 'scoped' | 'transient'

/** What a factory receives: resolve its dependencies through it, so paths and lifetimes are checked. */
export interface ServiceResolver<S extends object = Record<string, any>> {
  /**
   * Resolves a dependency of the service being built, on its resolution path (so cycles and lifetimes are checked).
   * Kept for a lazy lookup and used after the factory returned (or its promise settled), it resolves as from a
   * fresh path: a cached service is found, and only a lookup that leads back to a service being built is a cycle.
   *
   * @throws {ResolutionError} unknown name, cycle, singleton depending on a scoped service, failing factory
   * @throws {DisposedError} when the scope was disposed
   */
  resolve<K extends keyof S & string>(name: K): S[K]
  /** The scope the instance is created in (the root container for singletons). */
  readonly scope: ServiceScope<S>
}

/** Builds a service; may return a promise (an async factory). */
export type ServiceFactory<S extends object, T> = (resolver: ServiceResolver<S>) => T

/**
 * What every operation's scope provides beside the registrations (`CONTEXT_SERVICE`): scoped and transient
 * factories may resolve it by name in a typed container too.
 */
export interface ScopeServices {
  /** The scope's operation. */
  operationContext: OperationContext
}

/** Options of a factory registration. */
export interface RegistrationOptions<T> {
  /**
   * Called when the owning scope is disposed; by default an instance's `Symbol.asyncDispose` / `Symbol.dispose`
   * is used. A promise it returns is awaited (bounded by `disposeTimeoutMillis`); any other value is ignored, so
   * `(redis) => redis.quit()` fits as it is.
   */
  dispose?: ((instance: Awaited<T>) => unknown) | undefined
}

/** Options of `createServiceContainer()`. */
export interface ServiceContainerOptions {
  /**
   * Receives failures that have no caller to go to (e.g. a scope disposed after the response was sent). Default:
   * `process.emitWarning`. One that throws, or an async one that rejects (a logger that is down), is reported as a
   * process warning, redacted.
   */
  onError?: ((error: unknown) => void) | undefined
  /**
   * How long `dispose()` waits for one disposer, and for async factories still pending, before it goes on
   * without them: a `DisposeTimeoutError` joins its `DisposeFailedError`. The disposer keeps running (a failure
   * it reports later goes to `onError`); an instance whose factory settles later is disposed then. `0` waits
   * for good. Default `30000`: longer than a pool's own close timeout, so a singleton closing its pools is
   * waited for.
   */
  disposeTimeoutMillis?: number | undefined
  /** Where the dispose timeout reads time (a manual clock in tests). Default: the process clock. */
  clock?: Clock | undefined
}

/** @internal A registration as the container keeps it. */
export interface Registration {
  readonly name: string
  readonly lifetime: Lifetime | 'value'
  readonly factory: ServiceFactory<object, unknown> | undefined
  readonly value: unknown
  readonly dispose: ((instance: unknown) => unknown) | undefined
}

/** @internal An instance a scope disposes, in creation order. */
export interface Created {
  readonly name: string
  instance: unknown
  // Undefined while its async factory runs: its place in the order is where it started (see `#create`).
  dispose: ((instance: unknown) => unknown) | undefined
}
