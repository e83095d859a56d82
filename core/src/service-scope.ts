import { contextStorage } from './context-storage.js'
import { DisposedError, DisposeFailedError, ResolutionError } from './errors.js'
import type { OperationContext } from './operation-context.js'
import type { ServiceContainer } from './service-container.js'
import { badName, badResolve, defaultDisposer, disposerError, isPromiseLike, noop, wrapFactoryError } from './service-helpers.js'
import type { Created, Registration, ServiceFactory, ServiceResolver } from './service-types.js'

const noPath: readonly string[] = []

/**
 * @internal A container's list of open scopes, kept in fields of the scopes themselves: set up inside
 * `ServiceScope`, which owns those fields, and used by the container.
 */
export let openScopes!: {
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
  // The root's disposal from its first step, before `#disposing` is set (see `dispose()`).
  #closing: Promise<void> | undefined
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
    return this.#disposing !== undefined || this.#closing !== undefined
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
    if (this.#closing !== undefined) return this.#closing
    if (this.#disposing !== undefined) return this.#disposing
    const root = this.#root === (this as unknown)
    // Most request scopes create nothing with a disposer: those are disposed on the spot, without an
    // async function and its promises (each one pays AsyncLocalStorage's hooks on Node 20).
    if (!root && this.#created === undefined && this.#pending === undefined) return (this.#disposing = this.#disposeAtOnce())
    if (!root) return (this.#disposing = this.disposeOwned())
    // The root's first step aborts the operations still running, and their abort listeners run within it: one
    // that calls dispose() again gets this disposal, and one that starts an operation is refused. Singletons
    // still resolve there, as before the step (`#disposing` is set once it returns).
    let started!: (disposal: Promise<void>) => void
    this.#closing = new Promise<void>((resolve) => (started = resolve))
    this.#disposing = this.disposeOwned()
    started(this.#disposing)
    return this.#closing
  }

  #disposeAtOnce(): Promise<void> {
    this.#letGo()
    return disposedAtOnce
  }

  // Drops what the scope cached and provided, and leaves its container's open scopes.
  #letGo(): void {
    this.#onlyName = undefined
    this.#onlyInstance = undefined
    this.#instances = undefined
    this.#local = undefined
    this.#firstName = undefined
    this.#firstValue = undefined
    this.#root.forgetScope(this)
  }

  /** @internal */
  protected async disposeOwned(): Promise<void> {
    const errors: unknown[] = []
    await this.disposeChildren(errors)
    if (this.#pending !== undefined && this.#pending.size > 0) {
      // Named when the deadline passes: the factories still pending then, including those started meanwhile.
      await this.#root.settleWithin(this.#allSettled(), () => [...new Set(this.#pending?.values())].join(', '), errors, 'factory')
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
        errors.push(disposerError(error))
      }
    }
    this.#created = undefined
    this.#letGo()
    if (errors.length > 0) {
      throw new DisposeFailedError(errors, `Could not dispose all services. ${errors.length} disposer(s) failed.`)
    }
  }

  // Until no factory is pending: one still pending may start another (unawaited) before it settles, whose
  // instance would otherwise be created after `dispose()` resolved.
  async #allSettled(): Promise<void> {
    while (this.#pending !== undefined && this.#pending.size > 0) await Promise.allSettled([...this.#pending.keys()])
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

