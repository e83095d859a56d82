import { clockRule, systemClock } from './clock.js'
import { DisposeDeadlines } from './dispose-deadlines.js'
import { DisposedError, DisposeTimeoutError, RegistrationError } from './errors.js'
import { checkOption, validateOptions, type OptionRule } from './options.js'
import { badName, disposerError, isPromiseLike, noop } from './service-helpers.js'
import { openScopes, ServiceScope } from './service-scope.js'
import { redactError } from './redact.js'
import { reportToUser } from './report-to-user.js'
import type { Registration, RegistrationOptions, ScopeServices, ServiceContainerOptions, ServiceFactory, Lifetime } from './service-types.js'

export { disposedAtOnce, ServiceScope } from './service-scope.js'
export type { Lifetime, RegistrationOptions, ScopeServices, ServiceContainerOptions, ServiceFactory, ServiceResolver } from './service-types.js'

/**
 * The root of a service graph: registrations, singletons, and the factory for request scopes.
 */
export class ServiceContainer<S extends object = Record<string, any>> extends ServiceScope<S> {
  readonly #registrations = new Map<string, Registration>()
  // Registered values and singletons with something to dispose: see `owns`.
  #owned: WeakSet<object> | undefined
  readonly #onError: (error: unknown) => void
  readonly #disposeTimeoutMillis: number
  readonly #deadlines: DisposeDeadlines | undefined

  /** @internal use `createServiceContainer()` */
  constructor(options: ServiceContainerOptions = {}) {
    super(undefined)
    this.#onError = options.onError ?? warnRedacted
    this.#disposeTimeoutMillis = options.disposeTimeoutMillis ?? 30_000
    this.#deadlines = this.#disposeTimeoutMillis === 0 ? undefined : new DisposeDeadlines(options.clock ?? systemClock, this.#disposeTimeoutMillis)
  }

  /** One instance for the container's lifetime. */
  singleton<K extends string, T>(name: K, factory: ServiceFactory<S, T>, options?: RegistrationOptions<T>): ServiceContainer<S & Record<K, T>> {
    return this.#register(name, 'singleton', factory, options)
  }

  /** One instance per scope (per request or job). Its factory may resolve the scope's `operationContext`. */
  scoped<K extends string, T>(name: K, factory: ServiceFactory<S & ScopeServices, T>, options?: RegistrationOptions<T>): ServiceContainer<S & Record<K, T>> {
    return this.#register(name, 'scoped', factory as ServiceFactory<S, T>, options)
  }

  /** A new instance on every resolve; disposed with the scope that created it. Its factory may resolve `operationContext`. */
  transient<K extends string, T>(name: K, factory: ServiceFactory<S & ScopeServices, T>, options?: RegistrationOptions<T>): ServiceContainer<S & Record<K, T>> {
    return this.#register(name, 'transient', factory as ServiceFactory<S, T>, options)
  }

  /** A ready-made value; never disposed by the container. */
  value<K extends string, T>(name: K, value: T): ServiceContainer<S & Record<K, T>> {
    this.#add({ name, lifetime: 'value', factory: undefined, value, dispose: undefined })
    this.own(value)
    return this as unknown as ServiceContainer<S & Record<K, T>>
  }

  /** True when a service is registered under `name` (values a scope `provide()`s are not registrations). */
  has(name: string): boolean {
    return this.#registrations.has(name)
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.#registrations.keys()]
  }

  /**
   * A new scope for one request or job. Cheap: no allocation beyond the scope object until it creates something.
   *
   * @throws {DisposedError} when the container was disposed
   */
  createScope(): ServiceScope<S> {
    if (this.disposed) throw new DisposedError('Could not create a scope. The container is disposed.')
    const scope = new ServiceScope<S>(this)
    openScopes.add(this, scope)
    return scope
  }

  /** Number of scopes created and not yet disposed. */
  get openScopes(): number {
    return openScopes.count(this)
  }

  /** Reports a failure that has no caller (see `ServiceContainerOptions.onError`). Never throws. */
  reportError(error: unknown): void {
    // One that throws, or an async one that rejects (unhandled, that would end the process), becomes a warning
    // naming both its failure and what it was reporting.
    reportToUser(this.#onError, error, 'the service container', 'LIFEGUARD_CONTAINER_ON_ERROR_FAILED')
  }

  /**
   * @internal Waits for `settling` up to `disposeTimeoutMillis`, collecting its failure, or the timeout,
   * into `errors`. A failure after the timeout goes to `onError`. Failures are redacted (see `disposerError`).
   */
  settleWithin(settling: PromiseLike<unknown>, service: string | (() => string), errors: unknown[], what: 'disposer' | 'factory' = 'disposer'): Promise<void> {
    const deadlines = this.#deadlines
    return new Promise<void>((resolve) => {
      let timedOut = false
      const unwatch = deadlines?.watch(() => {
        timedOut = true
        errors.push(new DisposeTimeoutError(typeof service === 'string' ? service : service(), this.#disposeTimeoutMillis, what))
        resolve()
      })
      const done = (error?: unknown, failed = false): void => {
        if (timedOut) {
          if (failed) this.reportError(disposerError(error))
          return
        }
        unwatch?.()
        if (failed) errors.push(disposerError(error))
        resolve()
      }
      settling.then(
        () => done(),
        (error: unknown) => done(error, true),
      )
    })
  }

  /** @internal Marks an instance as the container's own (a registered value, a singleton), see `owns`. */
  own(instance: unknown): void {
    if ((typeof instance === 'object' && instance !== null) || typeof instance === 'function') (this.#owned ??= new WeakSet()).add(instance)
  }

  /** @internal True for an instance the container owns: a scope never disposes it by default. */
  owns(instance: unknown): boolean {
    return this.#owned !== undefined && ((typeof instance === 'object' && instance !== null) || typeof instance === 'function') && this.#owned.has(instance)
  }

  /** @internal Disposes an instance whose async factory settled after its scope stopped waiting for it. */
  disposeLate(instance: unknown, dispose: (instance: unknown) => unknown): void {
    const failed = (error: unknown): void => this.reportError(disposerError(error))
    try {
      const disposing = dispose(instance)
      if (isPromiseLike(disposing)) Promise.resolve(disposing).catch(failed)
    } catch (error) {
      failed(error)
    }
  }

  /** @internal */
  registration(name: string): Registration | undefined {
    return this.#registrations.get(name)
  }

  /** @internal */
  forgetScope(scope: ServiceScope<S>): void {
    openScopes.remove(this, scope)
  }

  /** @internal */
  protected override async disposeChildren(errors: unknown[]): Promise<void> {
    // Together: each is one request's, and one after another every hung disposer would add its whole
    // timeout to the shutdown.
    const open = openScopes.newestFirst(this)
    // An operation still running on a scope about to go learns of it first (its signal aborts), rather than
    // finding its services disposed under it, or not at all until its deadline.
    for (const scope of open) if (!scope.disposed) scope.providedContext()?.abort(new DisposedError('The service container is being disposed.'))
    // A scope its owner is disposing already is waited for, but its failure is the owner's: the owner holds
    // that disposal and reports what fails (`runOperation` and the adapters to `onError`). Taken here too,
    // it would reach this caller and `onError` both.
    const outcomes = await Promise.allSettled(
      open.map((scope) => {
        if (scope.disposed) return scope.dispose().then(noop, noop)
        // Read first: a scope that created nothing lets go of what it was provided as it is disposed.
        const context = scope.providedContext()
        const disposing = scope.dispose()
        // Reported once, to this caller: the operation that ends meanwhile or later (its adapter or
        // `runOperation` disposes the scope too) must not send the same failure to `onError` or its caller.
        openScopes.handOver(scope, disposing)
        // Its operation is disposed with it, as its owner would have: it reads as disposed from now on, so its
        // disposers' cleanup gets connections although it aborted (see `refusedForAbort`), and it ends when the
        // scope has gone. Its `dispose()` now waits on the handed-over disposal, which reports nothing.
        void context?.dispose()
        return disposing
      }),
    )
    for (const outcome of outcomes) if (outcome.status === 'rejected') errors.push(outcome.reason)
  }

  #register<K extends string, T>(name: K, lifetime: Lifetime, factory: ServiceFactory<S, T>, options: RegistrationOptions<T> | undefined): ServiceContainer<S & Record<K, T>> {
    // Checked before the name goes into the messages below.
    if (typeof name !== 'string' || name === '') throw badName('register a service', name)
    checkOption(`container.${lifetime}('${name}')`, 'factory', factory, { type: 'function' })
    validateOptions(`container.${lifetime}('${name}')`, options, { dispose: { type: 'function', optional: true } })
    this.#add({ name, lifetime, factory: factory as ServiceFactory<object, unknown>, value: undefined, dispose: options?.dispose as Registration['dispose'] })
    return this as unknown as ServiceContainer<S & Record<K, T>>
  }

  #add(registration: Registration): void {
    if (typeof registration.name !== 'string' || registration.name === '') throw badName('register a service', registration.name)
    if (this.disposed) throw new DisposedError(`Could not register '${registration.name}'. The container is disposed.`)
    if (this.#registrations.has(registration.name)) {
      throw new RegistrationError(`Could not register '${registration.name}'. A service with that name is already registered.`)
    }
    this.#registrations.set(registration.name, registration)
  }
}

/**
 * Creates an empty service container.
 *
 * @example
 * const container = createServiceContainer()
 *   .singleton('config', () => loadConfig())
 *   .scoped('orders', (r) => new OrdersRepo(r.resolve('config')))
 * const scope = container.createScope()
 * const orders = scope.resolve('orders')
 * await scope.dispose()
 */
export function createServiceContainer<S extends object = Record<string, unknown>>(options?: ServiceContainerOptions): ServiceContainer<S> {
  return new ServiceContainer<S>(
    validateOptions('createServiceContainer', options, {
      onError: { type: 'function', optional: true },
      disposeTimeoutMillis: { type: 'duration', optional: true },
      clock: clockRule,
    }),
  )
}

/**
 * The rule for an argument that must be a `ServiceContainer`: for the adapters that register services on
 * one or take scopes from it. Duck-typed, so a container from another copy of this package passes.
 */
export const containerRule: OptionRule = {
  type: 'custom',
  expected: 'a ServiceContainer (from createServiceContainer())',
  check: (value: unknown) => typeof value === 'object' && value !== null && typeof (value as { createScope?: unknown }).createScope === 'function',
}

// A failure with no caller, as a process warning: a disposer's or factory's error may quote a connection string.
function warnRedacted(error: unknown): void {
  process.emitWarning(redactError(error))
}

