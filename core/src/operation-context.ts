import { contextStorage } from './context-storage.js'
import { ContextUnavailableError, DisposedError, hasErrorCode } from './errors.js'
import { abortWatch, operationEnded, waitCounter, type AbortWatcher } from './operation-hooks.js'
import { isPrintableId, isWellFormed, nameRule, optionRules, optionsBagRule, printableName, printableNameRule, scopeRule, type OperationContextOptions } from './operation-options.js'
import { checkOption, rejectOption, validateOptions } from './options.js'
import { disposedAtOnce, type ServiceScope } from './service-container.js'
import { followSignal, unfollowSignal } from './signal-followers.js'

export type { OperationContextOptions } from './operation-options.js'

/**
 * @internal `OperationContext.create` for a caller that has checked its options already: the HTTP kit checks
 * the middleware's options once, when the middleware is made, and creates a context per request (with the
 * options as arguments: no object per request).
 */
export let createCheckedContext!: (
  handler: string,
  operation: string | OperationNamer,
  container: OperationContextOptions['container'],
  requestId: string | undefined,
  deadlineMillis: number | undefined,
  signal: AbortSignal | undefined,
) => OperationContext

/**
 * @internal Builds an operation's name when something first reads it: an HTTP adapter's default name (the
 * route pattern) costs string work on every request, and most requests are never asked their name (events
 * and route-labelled metrics ask). Must return a non-empty string. The name it returns is kept, unless it
 * named the operation again (`nameOperation`) while it ran: then that is asked on the next read.
 */
export type OperationNamer = () => string

/**
 * @internal Names `context` with `name` now, or with `name()` when something first reads the name (see
 * `OperationNamer`): how the HTTP kit names a request before and after its route is known. Does nothing once
 * the application named it (`setOperation()`).
 */
export let nameOperation!: (context: OperationContext, name: string | OperationNamer) => void

// The accessors adapters define (`context.postgres`), shared by every copy of this package in the process,
// and the `OperationContext` prototypes of those copies: an adapter that found a copy of its own defines
// its accessor on the application's contexts too.
interface SharedAccessors {
  readonly prototypes: Set<object>
  readonly accessors: Map<string, PropertyDescriptor>
}
const accessorsKey = Symbol.for('lifeguard.operation-context.accessors')
const processWide = globalThis as typeof globalThis & { [accessorsKey]?: SharedAccessors }
const sharedAccessors: SharedAccessors = (processWide[accessorsKey] ??= { prototypes: new Set(), accessors: new Map() })

/** Name under which a context makes itself resolvable in its own scope. */
export const CONTEXT_SERVICE = 'operationContext'

/**
 * One request or job: its handler and operation names, its own service scope, a signal that aborts when
 * the caller goes away or the deadline passes, and `dispose()` that gives back everything it took.
 * Carried through async code by `AsyncLocalStorage`.
 *
 * Adapters add typed accessors (`context.postgres`, `context.mongodb`) by declaration merging and
 * `OperationContext.defineAccessor`.
 */
export class OperationContext {
  /** Who runs it, e.g. the service or router name (`'orders-api'`). */
  readonly handler: string
  /** Correlates logs and events: the one given to `create()` (HTTP adapters always set one); undefined when none was. */
  readonly requestId: string | undefined
  /** The scope this context resolves from and disposes. */
  readonly scope: ServiceScope<any>
  /** `Date.now()` at creation. */
  readonly startedAt: number
  readonly #parentSignal: AbortSignal | undefined
  // On the monotonic clock (`performance.now()`), so a wall-clock step neither fires nor delays it.
  readonly #deadline: number | undefined
  // A function until first read, for a name built lazily (see `OperationNamer`).
  #operation: string | OperationNamer
  // Set when the operation is named while its name builder runs (see the `operation` getter).
  #renamed = false
  // Set by `setOperation()`: the application's name wins over an adapter's default from then on.
  #namedByApplication = false
  // The last name a builder that stays asked returned, and how it is shown: an adapter's builder returns the
  // same string while its route is the same, checked and made printable once (two regular expressions a read).
  #lastBuilt: string | undefined
  #lastShown = ''
  #controller: AbortController | undefined
  #abortReason: unknown
  #aborted = false
  #timer: NodeJS.Timeout | undefined
  #onParentAbort: (() => void) | undefined
  #resources: Map<string, unknown> | undefined
  #disposing: Promise<void> | undefined
  // Set once disposal has finished (see `liveOperation`).
  #ended = false
  /** Checkouts of this operation waiting in a pool's queue (kept by core's pool engine). */
  #waits = 0
  /** Core's wait queues that hold checkouts of this operation: told when it aborts. */
  #watchers: AbortWatcher[] | undefined

  private constructor(handler: string, operation: string | OperationNamer, scope: ServiceScope<any>, requestId: string | undefined, deadlineMillis: number | undefined, signal: AbortSignal | undefined) {
    this.handler = handler
    this.#operation = operation
    this.scope = scope
    this.requestId = requestId
    this.startedAt = Date.now()
    this.#parentSignal = signal
    this.#deadline = deadlineMillis === undefined ? undefined : performance.now() + deadlineMillis
  }

  /**
   * Creates a context. Given a container, it creates its own scope; given a scope, it takes ownership.
   *
   * @throws {InvalidOptionError} for a bad handler, operation or option
   * @example
   * const context = OperationContext.create('handler', 'operation', { container })
   * try { await context.run(() => work()) } finally { await context.dispose() }
   */
  static create(handler: string, operation: string, options: OperationContextOptions): OperationContext {
    return OperationContext.createFor('OperationContext.create', handler, operation, options)
  }

  /** @internal `create()` for an entry point of core's own (`runOperation`), which its errors name. */
  static createFor(where: string, handler: string, operation: string, options: OperationContextOptions): OperationContext {
    // Created once per request: the full validation (which builds the error) runs only when the same rules,
    // checked quietly, find something off.
    if (!isWellFormed(handler, operation, options)) {
      checkOption(where, 'handler', handler, printableNameRule)
      checkOption(where, 'operation', operation, printableNameRule)
      checkOption(where, 'options', options, optionsBagRule)
      validateOptions(where, options, optionRules)
    }
    return OperationContext.#start(handler, operation, options.container, options.requestId, options.deadlineMillis, options.signal)
  }

  static #start(
    handler: string,
    operation: string | OperationNamer,
    given: OperationContextOptions['container'],
    requestId: string | undefined,
    deadlineMillis: number | undefined,
    signal: AbortSignal | undefined,
  ): OperationContext {
    const scope = 'createScope' in given && typeof given.createScope === 'function' ? given.createScope() : given
    const context = new OperationContext(handler, operation, scope, requestId, deadlineMillis, signal)
    scope.provide(CONTEXT_SERVICE, context)
    return context
  }

  static {
    sharedAccessors.prototypes.add(OperationContext.prototype)
    for (const [name, accessor] of sharedAccessors.accessors) defineOnce(OperationContext.prototype, name, accessor)
    createCheckedContext = OperationContext.#start
    nameOperation = (context, name) => {
      if (context.#namedByApplication) return
      context.#operation = name
      context.#renamed = true
    }
  }

  /**
   * The context of the operation running now.
   *
   * @throws {ContextUnavailableError} outside any operation
   */
  static current(): OperationContext {
    const context = contextStorage.getStore()
    if (context === undefined) throw new ContextUnavailableError()
    return context as OperationContext
  }

  /** The context of the operation running now, or `undefined`. */
  static tryCurrent(): OperationContext | undefined {
    return contextStorage.getStore() as OperationContext | undefined
  }

  /**
   * The context that owns `scope` (it provides itself there), or `undefined` for a bare scope.
   *
   * @throws {InvalidOptionError} when `scope` is not a scope
   */
  static ofScope(scope: ServiceScope<any>): OperationContext | undefined {
    checkOption('OperationContext.ofScope', 'scope', scope, scopeRule)
    // Read, not resolved: a factory still pending when the scope's disposal began may resolve a handle whose
    // factory asks this, and a resolve from outside any factory is refused by then.
    const provided = (scope as { providedContext?: () => OperationContext | undefined }).providedContext?.()
    if (provided !== undefined) return provided
    // A scope of another copy of this package (with no `providedContext`), or one with no context of its own.
    try {
      return scope.resolve(CONTEXT_SERVICE) as OperationContext
    } catch (error) {
      // By code, not `instanceof`: the scope may come from another copy of this package (an adapter's own).
      if (hasErrorCode(error, 'ERR_RESOLUTION') && (error as { reason?: unknown }).reason === 'unknown') return undefined
      throw error
    }
  }

  /**
   * Adds a lazily created, per-context property to every context (how adapters add `postgres` or
   * `mongodb`). The value is created on first access and cached for the context's lifetime. Defining a
   * name again (a second copy of the adapter) keeps the first definition.
   *
   * @throws {InvalidOptionError} for an empty or non-string `name`, a `name` every context has already
   *   (`signal`, `dispose`, `handler`, ...) or `then`, or a `create` that is not a function
   * @example
   * OperationContext.defineAccessor('audit', (context) => new AuditLog(context.requestId))
   */
  static defineAccessor<T>(name: string, create: (context: OperationContext) => T): void {
    checkOption('OperationContext.defineAccessor', 'name', name, nameRule)
    checkOption('OperationContext.defineAccessor', 'create', create, { type: 'function' })
    // Defined already, by this adapter or another copy of it: the first definition stands.
    if (sharedAccessors.accessors.has(name)) return
    if (OperationContext.#isTaken(name)) {
      rejectOption('OperationContext.defineAccessor', 'name', 'a name no OperationContext member has (such as `signal`, `dispose` or `handler`), and not `then`', name)
    }
    const accessor: PropertyDescriptor = {
      configurable: true,
      get(this: OperationContext) {
        return this.resource(name, create)
      },
    }
    sharedAccessors.accessors.set(name, accessor)
    for (const prototype of sharedAccessors.prototypes) defineOnce(prototype, name, accessor)
  }

  // A name an accessor may not take: a member of every context (`signal`, `dispose`, `handler`, `toString`,
  // ...), which the accessor would shadow or be shadowed by, or `then`, which would make every context a
  // thenable (an async function returning one would resolve to something else).
  static #isTaken(name: string): boolean {
    if (name === 'then' || name in OperationContext.prototype) return true
    // The public fields are each context's own (the constructor sets them): read off one made for the purpose.
    return Object.hasOwn(new OperationContext('', '', undefined as never, undefined, undefined, undefined), name)
  }

  /**
   * What it does, e.g. `'GET /orders/:id'` or `'charge'`. Low cardinality: a route pattern, never a raw path.
   * An HTTP adapter's default name is built on the first read.
   *
   * @throws {InvalidOptionError} when an adapter's name builder returned an empty or non-string name
   */
  get operation(): string {
    const operation = this.#operation
    if (typeof operation === 'string') return operation
    this.#renamed = false
    const built = operation()
    // The builder (a user's `operationName`) named the operation itself: that name stands.
    if (this.#namedByApplication) return this.#operation as string
    let shown: string
    if (built === this.#lastBuilt && built !== undefined) {
      shown = this.#lastShown
    } else {
      // A fault of the adapter that named it; checked on the read that builds it.
      if (typeof built !== 'string' || built === '') checkOption('OperationContext.operation', 'operation', built, nameRule)
      // An adapter's default name holds what the client sent (a path no route matched): kept printable and bounded.
      shown = printableName(built)
      this.#lastBuilt = built
      this.#lastShown = shown
    }
    // A builder that named the operation again while it ran (a name for now, until the route is known) is
    // asked again on the next read.
    if (!this.#renamed) {
      this.#operation = shown
      // Asked no more: not kept (it may be a long path the client sent).
      this.#lastBuilt = undefined
      this.#lastShown = ''
    }
    return shown
  }

  /**
   * Names the operation once what it does is known: an HTTP middleware creates the context before the
   * framework has routed the request (`GET /orders/42`) and names it here once it has (`GET /orders/:id`).
   * Events and metrics read the name when they happen, so name it as early as you can. The name set here is
   * kept: an adapter does not replace it with the route's once the response has finished.
   *
   * @throws {InvalidOptionError} for a name that is not a non-empty string of up to 256 characters without
   *   control, line-break, bidi or zero-width characters (as at creation)
   * @example
   * context.setOperation(`${req.method} ${req.route.path}`)
   */
  setOperation(operation: string): void {
    if (!isPrintableId(operation)) checkOption('OperationContext.setOperation', 'operation', operation, printableNameRule)
    this.#operation = operation
    this.#namedByApplication = true
  }

  /**
   * Runs `fn` with this context as the current one, through every `await`, timer and callback below it.
   *
   * @throws {InvalidOptionError} when `fn` is not a function
   */
  run<R>(fn: () => R): R {
    if (typeof fn !== 'function') checkOption('OperationContext.run', 'fn', fn, { type: 'function' })
    return contextStorage.run(this, fn)
  }

  /**
   * Resolves a service from this context's scope.
   *
   * @throws {ResolutionError}
   * @throws {DisposedError} after `dispose()`
   */
  get<T = unknown>(name: string): T {
    return this.scope.resolve(name) as T
  }

  /**
   * A value created once per context by `create`, e.g. a database handle.
   *
   * @throws {InvalidOptionError} when `create` is needed and is not a function
   * @throws {DisposedError} after `dispose()`
   */
  resource<T>(key: string, create: (context: OperationContext) => T): T {
    if (this.#disposing !== undefined) throw new DisposedError(`Could not use '${key}'. The operation context is disposed.`)
    const resources = (this.#resources ??= new Map())
    if (resources.has(key)) return resources.get(key) as T
    if (typeof create !== 'function') checkOption('OperationContext.resource', 'create', create, { type: 'function' })
    const value = create(this)
    resources.set(key, value)
    return value
  }

  /**
   * Aborts when the caller's signal aborts, `abort()` is called, or the deadline passes, while the operation
   * runs: `dispose()` stops following the caller's signal and the deadline. Created on first use.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = (this.#controller = new AbortController())
      this.#follow()
      if (this.#aborted) controller.abort(this.#abortReason)
    }
    return this.#controller.signal
  }

  /** True once aborted (without creating the signal). After `dispose()` it says how the operation ended, as `signal` does. */
  get aborted(): boolean {
    if (this.#aborted || this.#disposing !== undefined) return this.#aborted
    return this.#parentSignal?.aborted === true || (this.#deadline !== undefined && performance.now() >= this.#deadline)
  }

  /** Aborts the operation (adapters call this when the client goes away). */
  abort(reason?: unknown): void {
    // After dispose() the operation has ended as it ended: a late abort changes neither `aborted` nor `signal`.
    if (this.#aborted || this.#disposing !== undefined) return
    this.#aborted = true
    // Nothing is left for the deadline to do, and its timer would hold the process until it passed.
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#abortReason = reason ?? new DOMException('The operation was aborted.', 'AbortError')
    this.#controller?.abort(this.#abortReason)
    if (this.#watchers !== undefined) for (const watcher of this.#watchers) watcher(this, this.#abortReason)
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposing !== undefined
  }

  /** @internal True once `dispose()` has finished: work that runs in this context afterwards is no part of it. */
  get ended(): boolean {
    return this.#ended
  }

  /**
   * Ends the operation: disposes the scope (every resource the operation took, newest first). A pool
   * checkout of the operation still waiting stops waiting (the signal aborts for it); otherwise `signal` is
   * left as it is, so abort listeners do not run after an operation that completed, and no longer follows
   * the caller's signal or the deadline. Idempotent.
   */
  dispose(): Promise<void> {
    if (this.#disposing === undefined) {
      // How it ended must not depend on whether its signal was read: a caller's abort or a deadline that
      // came while it ran (unseen, with no signal linked to them) is recorded before disposal stops following them.
      if (!this.#aborted) this.#abortIfDue()
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      if (this.#onParentAbort !== undefined) unfollowSignal(this.#parentSignal as AbortSignal, this.#onParentAbort)
      // The operation is over: a pool checkout of it still waiting stops waiting now.
      if (this.#waits > 0 && !this.#aborted) this.abort(operationEnded)
      // An abort listener may have called dispose() itself: that disposal is this one (a second would leave the
      // first's rejection unhandled).
      if (this.#disposing !== undefined) return this.#disposing
      const scopeDisposal = this.scope.dispose()
      // A scope that held nothing is disposed on the spot: no promise to wait for.
      if (scopeDisposal === disposedAtOnce) {
        this.#resources = undefined
        this.#disposing = disposedAtOnce
        this.#ended = true
      } else {
        this.#disposing = this.#afterScope(scopeDisposal)
      }
    }
    return this.#disposing
  }

  /** @internal see `countWait` */
  [waitCounter](delta: number): void {
    this.#waits += delta
  }

  /** @internal see `watchAbort` */
  [abortWatch](watcher: AbortWatcher): void {
    const watchers = (this.#watchers ??= [])
    if (watchers.includes(watcher)) return
    watchers.push(watcher)
    // A caller's signal or a deadline abort the operation only once followed; no signal is made for it (a
    // statement's watcher on a context with a deadline made an AbortController per operation: +22k
    // instructions, measured).
    this.#follow()
  }

  async #afterScope(scopeDisposal: Promise<void>): Promise<void> {
    try {
      await scopeDisposal
    } finally {
      this.#resources = undefined
      this.#ended = true
    }
  }

  // Aborts now if the caller's signal aborted or the deadline passed (what nothing linked may have missed).
  #abortIfDue(): void {
    const parent = this.#parentSignal
    if (parent?.aborted) this.abort(parent.reason)
    else if (this.#deadline !== undefined && performance.now() >= this.#deadline) this.#expire()
  }

  #expire(): void {
    this.abort(new DOMException(`The operation exceeded its deadline.`, 'TimeoutError'))
  }

  // Follows what may abort the operation while it runs: the caller's signal and the deadline, each once, and
  // nothing once it aborted or was disposed.
  #follow(): void {
    if (this.#aborted || this.#disposing !== undefined) return
    const parent = this.#parentSignal
    if (parent !== undefined && this.#onParentAbort === undefined) {
      if (parent.aborted) return this.abort(parent.reason)
      this.#onParentAbort = () => this.abort(parent.reason)
      followSignal(parent, this.#onParentAbort)
    }
    if (this.#deadline !== undefined && this.#timer === undefined) {
      const remaining = this.#deadline - performance.now()
      if (remaining <= 0) return this.#expire()
      // Not unref'd: a job that waits on nothing but its signal is held up by its deadline alone, and the
      // process must not exit under it (unref'd, Node left with code 13 and the scope never disposed).
      // `dispose()` clears it.
      this.#timer = setTimeout(() => this.#expire(), remaining)
    }
  }
}

function defineOnce(prototype: object, name: string, accessor: PropertyDescriptor): void {
  if (!Object.hasOwn(prototype, name)) Object.defineProperty(prototype, name, accessor)
}
