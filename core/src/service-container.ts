import { clockRule, systemClock, type Clock } from './clock.js'
import { contextStorage } from './context-storage.js'
import type { OperationContext } from './operation-context.js'
import { DisposeDeadlines } from './dispose-deadlines.js'
import { DisposedError, DisposeFailedError, DisposeTimeoutError, hasErrorCode, RegistrationError, ResolutionError } from './errors.js'
import { checkOption, describeValue, validateOptions, type OptionRule } from './options.js'

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
  /** Receives failures that have no caller to go to (e.g. a scope disposed after the response was sent). Default: `process.emitWarning`. */
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

interface Registration {
  readonly name: string
  readonly lifetime: Lifetime | 'value'
  readonly factory: ServiceFactory<object, unknown> | undefined
  readonly value: unknown
  readonly dispose: ((instance: unknown) => unknown) | undefined
}

interface Created {
  readonly name: string
  instance: unknown
  // Undefined while its async factory runs: its place in the order is where it started (see `#create`).
  dispose: ((instance: unknown) => unknown) | undefined
}

const noPath: readonly string[] = []

// A container's list of open scopes, kept in fields of the scopes themselves (set up inside ServiceScope,
// which owns those fields).
let openScopes!: {
  add(container: ServiceScope<any>, scope: ServiceScope<any>): void
  remove(container: ServiceScope<any>, scope: ServiceScope<any>): void
  newestFirst(container: ServiceScope<any>): ServiceScope<any>[]
  count(container: ServiceScope<any>): number
  /**
   * The container disposes the scope and reports its failure to its own caller: whoever else calls the scope's
   * `dispose()` (its operation ending meanwhile or later) waits for the same disposal and sees it succeed.
   */
  handOver(scope: ServiceScope<any>, disposing: Promise<void>): void
}

/**
 * @internal What `dispose()` returns for a scope disposed on the spot (it created nothing to dispose), so
 * that a caller inside core can tell it needs no `then`.
 */
export const disposedAtOnce: Promise<void> = Promise.resolve()

/**
 * A scope: holds the scoped (and transient) instances it created and disposes them in reverse creation
 * order. The root container is itself a scope that also holds singletons.
 */
// The classes' default, `Record<string, any>`, takes a container typed with an interface as well (a bare
// `ServiceContainer` parameter); `createServiceContainer()` keeps `unknown` for what it resolves.
export class ServiceScope<S extends object = Record<string, any>> {
  readonly #root: ServiceContainer<S>
  // The first instance cached here lives in two fields (a request scope often makes just one); a Map for more.
  #onlyName: string | undefined
  #onlyInstance: unknown
  #instances: Map<string, unknown> | undefined
  // The first provided value lives in two fields (every request provides its context); a Map only for more.
  #firstName: string | undefined
  #firstValue: unknown
  #local: Map<string, unknown> | undefined
  #created: Created[] | undefined
  // Async factories still running, with the service each one makes.
  #pending: Map<Promise<unknown>, string> | undefined
  // While async factories are pending: which services each one waits on (see `#waitFor`).
  #waits: Map<string, Set<string>> | undefined
  #disposing: Promise<void> | undefined
  // Set once `dispose()` stopped waiting for pending factories.
  #finishing = false
  // A container's open scopes form a list, newest last (see `openScopes`): nothing hashed per request scope.
  #older: ServiceScope<S> | undefined
  #newer: ServiceScope<S> | undefined
  #newest: ServiceScope<S> | undefined
  #openCount = 0
  // The resolution path of the factory running here now (synchronously), for a resolver used after its own
  // factory returned (see `#create`).
  #activePath: readonly string[] = noPath

  static {
    openScopes = {
      add(container, scope) {
        const newest = container.#newest
        scope.#older = newest
        if (newest !== undefined) newest.#newer = scope
        container.#newest = scope
        container.#openCount++
      },
      remove(container, scope) {
        const older = scope.#older
        const newer = scope.#newer
        if (older === undefined && newer === undefined && container.#newest !== scope) return
        if (older !== undefined) older.#newer = newer
        if (newer !== undefined) newer.#older = older
        else container.#newest = older
        scope.#older = undefined
        scope.#newer = undefined
        container.#openCount--
      },
      newestFirst(container) {
        const open: ServiceScope<any>[] = []
        for (let scope = container.#newest; scope !== undefined; scope = scope.#older) open.push(scope)
        return open
      },
      count: (container) => container.#openCount,
      handOver(scope, disposing) {
        scope.#disposing = disposing === disposedAtOnce ? disposing : disposing.then(noop, noop)
      },
    }
  }

  /** @internal use `container.createScope()` */
  constructor(root: ServiceContainer<S> | undefined) {
    this.#root = root ?? (this as unknown as ServiceContainer<S>)
  }

  /** The root container. */
  get container(): ServiceContainer<S> {
    return this.#root
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposing !== undefined
  }

  /**
   * Resolves a service: the cached instance for singletons and scoped services, a new one for transients.
   * For an async factory this returns its promise (created once even under concurrent resolution).
   *
   * @throws {ResolutionError} unknown name (or one that is not a non-empty string), cycle, singleton depending
   *   on a scoped service, failing factory
   * @throws {DisposedError} when this scope was disposed
   */
  resolve<K extends keyof S & string>(name: K): S[K] {
    return this.resolveFrom(name, noPath, false) as S[K]
  }

  /**
   * Makes a value resolvable in this scope only (e.g. the current request). It is not disposed.
   *
   * @throws {RegistrationError} for a name that is not a non-empty string
   * @throws {DisposedError} when this scope was disposed
   */
  provide<K extends string, V>(name: K, value: V): ServiceScope<S & Record<K, V>> {
    if (typeof name !== 'string' || name === '') throw badName('provide a value', name)
    if (this.disposed) throw new DisposedError(`Could not provide '${name}'. The scope is disposed.`)
    if (this.#firstName === undefined || this.#firstName === name) {
      this.#firstName = name
      this.#firstValue = value
    } else {
      ;(this.#local ??= new Map()).set(name, value)
    }
    return this as unknown as ServiceScope<S & Record<K, V>>
  }

  /** @internal The operation this scope was made for (`CONTEXT_SERVICE`), if any. */
  providedContext(): OperationContext | undefined {
    if (this.#firstName === 'operationContext') return this.#firstValue as OperationContext
    // Provided after another value (the caller's own, before it made the context).
    return this.#local?.get('operationContext') as OperationContext | undefined
  }

  /** Disposes everything this scope created, newest first; failures are collected into one `DisposeFailedError` (an `AggregateError`). Idempotent. */
  dispose(): Promise<void> {
    if (this.#disposing === undefined) {
      // Most request scopes create nothing with a disposer: those are disposed on the spot, without an
      // async function and its promises (each one pays AsyncLocalStorage's hooks on Node 20).
      const atOnce = this.#root !== (this as unknown) && this.#created === undefined && this.#pending === undefined
      this.#disposing = atOnce ? this.#disposeAtOnce() : this.disposeOwned()
    }
    return this.#disposing
  }

  #disposeAtOnce(): Promise<void> {
    this.#onlyName = undefined
    this.#onlyInstance = undefined
    this.#instances = undefined
    this.#local = undefined
    this.#firstName = undefined
    this.#firstValue = undefined
    this.#root.forgetScope(this)
    return disposedAtOnce
  }

  /** @internal */
  protected async disposeOwned(): Promise<void> {
    const errors: unknown[] = []
    await this.disposeChildren(errors)
    if (this.#pending !== undefined && this.#pending.size > 0) {
      await this.#root.settleWithin(Promise.allSettled([...this.#pending.keys()]), [...new Set(this.#pending.values())].join(', '), errors, 'factory')
    }
    // From here an async factory that settles late has its instance disposed at once (see `#track`).
    this.#finishing = true
    const created = this.#created ?? []
    for (let i = created.length - 1; i >= 0; i--) {
      const entry = created[i] as Created
      if (entry.dispose === undefined) continue
      try {
        const disposing = entry.dispose(entry.instance)
        if (isPromiseLike(disposing)) await this.#root.settleWithin(disposing, entry.name, errors)
      } catch (error) {
        errors.push(error)
      }
    }
    this.#created = undefined
    this.#onlyName = undefined
    this.#onlyInstance = undefined
    this.#instances = undefined
    this.#local = undefined
    this.#firstName = undefined
    this.#firstValue = undefined
    this.#root.forgetScope(this)
    if (errors.length > 0) {
      throw new DisposeFailedError(errors, `Could not dispose all services. ${errors.length} disposer(s) failed.`)
    }
  }

  /** @internal the root disposes its open child scopes first */
  protected async disposeChildren(_errors: unknown[]): Promise<void> {}

  /** @internal */
  resolveFrom(name: string, path: readonly string[], inSingleton: boolean): unknown {
    // A factory still pending when `dispose()` began may resolve its dependencies until the scope stops
    // waiting for it (what it opened before is then disposed with the rest); any other resolve is refused.
    if (this.#disposing !== undefined && (path.length === 0 || this.#finishing)) {
      if (typeof name !== 'string') throw badResolve(name, path)
      throw new DisposedError(`Could not resolve '${name}'. The scope is disposed.`, [...path, name])
    }
    // `#firstName` is undefined until something is provided: an undefined name must not match it.
    if (name === this.#firstName && name !== undefined) return this.#firstValue
    const local = this.#local?.get(name)
    if (local !== undefined || this.#local?.has(name) === true) return local
    const registration = this.#root.registration(name)
    if (registration === undefined) {
      if (typeof name !== 'string' || name === '') throw badResolve(name, path)
      if (name === 'operationContext') {
        throw new ResolutionError('unknown', [...path, name], `Could not resolve '${name}'. It is provided in an operation's own scope only; ${inSingleton ? 'a singleton' : 'this scope'} has none.`)
      }
      const known = this.#root.names().map((n) => `'${n}'`).join(', ') || '(none)'
      throw new ResolutionError('unknown', [...path, name], `Could not resolve '${name}'. No service is registered under that name. Registered: ${known}.`)
    }
    switch (registration.lifetime) {
      case 'value':
        return registration.value
      case 'singleton':
        return this.#root === (this as unknown) ? this.#cachedOrCreate(registration, path, true) : this.#root.resolveFrom(name, path, true)
      case 'scoped':
        if (inSingleton) {
          throw new ResolutionError('lifetime', [...path, name], `Could not resolve '${name}'. It is scoped, and a singleton cannot depend on a scoped service.`)
        }
        // Cached in the root, it would live as long as the container: a singleton in all but name.
        if (this.#root === (this as unknown)) {
          throw new ResolutionError('lifetime', [...path, name], `Could not resolve '${name}'. It is scoped: resolve it from a scope (\`container.createScope()\`), not from the root container.`)
        }
        return this.#cachedOrCreate(registration, path, false)
      case 'transient':
        return this.#create(registration, path, inSingleton)
    }
  }

  #cachedOrCreate(registration: Registration, path: readonly string[], inSingleton: boolean): unknown {
    const name = registration.name
    if (path.length > 0 && path.includes(name)) this.#cycle(name, path)
    if (name === this.#onlyName) return path.length === 0 ? this.#onlyInstance : this.#waitFor(name, this.#onlyInstance, path)
    const cached = this.#instances?.get(name)
    if (cached !== undefined || this.#instances?.has(name)) return path.length === 0 ? cached : this.#waitFor(name, cached, path)
    const instance = this.#create(registration, path, inSingleton)
    if (this.#onlyName === undefined) {
      this.#onlyName = name
      this.#onlyInstance = instance
    } else {
      ;(this.#instances ??= new Map()).set(name, instance)
    }
    return instance
  }

  // `instance` of `name` is cached here, asked for by the factory of the last service on `path`. When both
  // are async factories still pending, the asker now waits on it; if it waits, through others, on the
  // asker, neither would ever settle (two branches of one request that each started one end of a cycle,
  // which no path shows). That is the cycle error instead.
  #waitFor(name: string, instance: unknown, path: readonly string[]): unknown {
    const asker = path[path.length - 1] as string
    if (!this.#isPending(instance) || !this.#isPending(this.#cachedInstance(asker))) return instance
    const chain = this.#waitChain(name, asker, new Set())
    if (chain !== undefined) this.#cycle(asker, [...path, ...chain.slice(0, -1)])
    const waits = (this.#waits ??= new Map())
    const waited = waits.get(asker)
    if (waited === undefined) waits.set(asker, new Set([name]))
    else waited.add(name)
    return instance
  }

  // The services from `from` to `to` along what pending factories wait on, or undefined.
  #waitChain(from: string, to: string, seen: Set<string>): string[] | undefined {
    if (from === to) return [to]
    if (seen.has(from)) return undefined
    seen.add(from)
    for (const next of this.#waits?.get(from) ?? []) {
      const rest = this.#waitChain(next, to, seen)
      if (rest !== undefined) return [from, ...rest]
    }
    return undefined
  }

  #cachedInstance(name: string): unknown {
    return name === this.#onlyName ? this.#onlyInstance : this.#instances?.get(name)
  }

  #isPending(instance: unknown): boolean {
    return this.#pending !== undefined && this.#pending.has(instance as Promise<unknown>)
  }

  // A failed async creation is not cached, so a later resolve can try again.
  #uncache(name: string, instance: unknown): void {
    if (this.#onlyName === name && this.#onlyInstance === instance) {
      this.#onlyName = undefined
      this.#onlyInstance = undefined
    } else if (this.#instances !== undefined && this.#instances.get(name) === instance) {
      this.#instances.delete(name)
    }
  }

  #create(registration: Registration, path: readonly string[], inSingleton: boolean): unknown {
    if (path.length > 0 && path.includes(registration.name)) this.#cycle(registration.name, path)
    const childPath = [...path, registration.name]
    const childInSingleton = inSingleton || registration.lifetime === 'singleton'
    // While the factory runs, its resolver resolves on the factory's path, so cycles are found. A factory may
    // keep its resolver for a lazy lookup (`() => r.resolve('b')`): used once the factory has returned (or its
    // promise settled), that path is over, and the lookup starts from whatever factory is running here then
    // (none: a fresh path), which finds a real cycle and no false one.
    let settled = false
    const resolver: ServiceResolver<S> = {
      resolve: (dependency) => this.resolveFrom(dependency, settled ? this.#activePath : childPath, childInSingleton) as never,
      scope: this,
    }
    let instance: unknown
    const outerPath = this.#activePath
    this.#activePath = childPath
    try {
      const factory = registration.factory as ServiceFactory<S, unknown>
      // A singleton outlives the operation that first asked for it: its factory (and the timers or sockets it
      // starts) must not keep that operation as its context.
      instance = registration.lifetime === 'singleton' && contextStorage.getStore() !== undefined ? contextStorage.exit(() => factory(resolver)) : factory(resolver)
    } catch (error) {
      settled = true
      throw wrapFactoryError(error, childPath)
    } finally {
      this.#activePath = outerPath
    }
    if (isPromiseLike(instance)) {
      // Its place in the disposal order is taken now, where it started: a service created meanwhile that
      // holds its promise (and uses it when disposed) goes first.
      const taken: Created = { name: registration.name, instance: undefined, dispose: undefined }
      ;(this.#created ??= []).push(taken)
      const pending = Promise.resolve(instance).then(
        (value) => {
          settled = true
          this.#pending?.delete(pending)
          this.#waits?.delete(registration.name)
          this.#track(registration, value, taken)
          return value
        },
        (error: unknown) => {
          settled = true
          this.#pending?.delete(pending)
          this.#waits?.delete(registration.name)
          this.#forget(taken)
          this.#uncache(registration.name, pending)
          throw wrapFactoryError(error, childPath)
        },
      )
      ;(this.#pending ??= new Map()).set(pending, registration.name)
      return pending
    }
    settled = true
    this.#track(registration, instance)
    return instance
  }

  #track(registration: Registration, instance: unknown, slot?: Created): void {
    const root = this.#root
    const isRoot = (this as ServiceScope<S>) === (root as ServiceScope<S>)
    // A factory that hands out what has an owner already (`(r) => r.resolve('pool')`: a registered value, a
    // singleton, or a service this scope created) leaves its disposal to that owner: it is disposed once.
    const dispose = registration.dispose ?? (root.owns(instance) ? undefined : defaultDisposer(instance))
    if (dispose !== undefined && registration.dispose === undefined && !isRoot && this.#tracks(instance)) return this.#forget(slot)
    if (dispose === undefined || this.#finishing) this.#forget(slot)
    if (dispose === undefined) return
    if (isRoot) root.own(instance)
    if (this.#finishing) this.#root.disposeLate(instance, dispose)
    else if (slot !== undefined) {
      slot.instance = instance
      slot.dispose = dispose
    } else (this.#created ??= []).push({ name: registration.name, instance, dispose })
  }

  // True when this scope disposes `instance` already (an alias resolved it from another registration).
  #tracks(instance: unknown): boolean {
    const created = this.#created
    if (created === undefined || instance === null || (typeof instance !== 'object' && typeof instance !== 'function')) return false
    for (const entry of created) if (entry.instance === instance) return true
    return false
  }

  // An async factory's place in the order, given up: it failed, or made nothing to dispose (a scope with
  // nothing to dispose keeps its disposal on the spot).
  #forget(slot: Created | undefined): void {
    const created = this.#created
    // Once disposal runs through the list, an empty slot is skipped there instead (no shifting under it).
    if (slot === undefined || created === undefined || this.#finishing) return
    const index = created.indexOf(slot)
    if (index >= 0) created.splice(index, 1)
    if (created.length === 0) this.#created = undefined
  }

  #cycle(name: string, path: readonly string[]): never {
    throw new ResolutionError('cycle', [...path, name], `Could not resolve '${name}'. It depends on itself.`)
  }
}

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
    this.#onError = options.onError ?? ((error) => process.emitWarning(error instanceof Error ? error : new Error(String(error))))
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
    try {
      this.#onError(error)
    } catch (hookError) {
      process.emitWarning(hookError instanceof Error ? hookError : new Error(String(hookError)))
    }
  }

  /**
   * @internal Waits for `settling` up to `disposeTimeoutMillis`, collecting its failure, or the timeout,
   * into `errors`. A failure after the timeout goes to `onError`.
   */
  settleWithin(settling: PromiseLike<unknown>, service: string, errors: unknown[], what: 'disposer' | 'factory' = 'disposer'): Promise<void> {
    const deadlines = this.#deadlines
    return new Promise<void>((resolve) => {
      let timedOut = false
      const unwatch = deadlines?.watch(() => {
        timedOut = true
        errors.push(new DisposeTimeoutError(service, this.#disposeTimeoutMillis, what))
        resolve()
      })
      const done = (error?: unknown, failed = false): void => {
        if (timedOut) {
          if (failed) this.reportError(error)
          return
        }
        unwatch?.()
        if (failed) errors.push(error)
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
    const failed = (error: unknown): void => this.reportError(error)
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
        const disposing = scope.dispose()
        // Reported once, to this caller: the operation that ends meanwhile or later (its adapter or
        // `runOperation` disposes the scope too) must not send the same failure to `onError` or its caller.
        openScopes.handOver(scope, disposing)
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

function defaultDisposer(instance: unknown): ((instance: unknown) => unknown) | undefined {
  if (typeof instance !== 'object' && typeof instance !== 'function') return undefined
  if (instance === null) return undefined
  const disposable = instance as { [Symbol.asyncDispose]?: () => Promise<void>; [Symbol.dispose]?: () => void }
  if (typeof disposable[Symbol.asyncDispose] === 'function') return (i) => (i as typeof disposable)[Symbol.asyncDispose]!()
  if (typeof disposable[Symbol.dispose] === 'function') return (i) => (i as typeof disposable)[Symbol.dispose]!()
  return undefined
}

function noop(): void {}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

// A bad name given to a registration or `provide()`: said as it was, never converted (a symbol would throw).
function badName(action: string, name: unknown): RegistrationError {
  return new RegistrationError(`Could not ${action}. Expected a non-empty string name, got ${describeName(name)}.`)
}

// A bad name given to `resolve()`: `undefined` would otherwise match nothing provided and resolve to undefined.
function badResolve(name: unknown, path: readonly string[]): ResolutionError {
  return new ResolutionError('unknown', [...path, String(name)], `Could not resolve a service. Expected a non-empty string name, got ${describeName(name)}.`)
}

function describeName(name: unknown): string {
  return name === '' ? 'an empty string' : describeValue(name)
}

function wrapFactoryError(error: unknown, path: readonly string[]): unknown {
  // By code, not `instanceof`: a factory may resolve from a scope of another copy of this package.
  if (hasErrorCode(error, 'ERR_RESOLUTION') || hasErrorCode(error, 'ERR_DISPOSED')) return error
  const name = path[path.length - 1] ?? '?'
  const reason = error instanceof Error ? error.message : String(error)
  return new ResolutionError('factory', path, `Could not resolve '${name}'. Its factory failed: ${reason}`, { cause: error })
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
