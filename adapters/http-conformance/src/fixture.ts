import { createServiceContainer, type OperationContext, type ServiceContainer } from '@lifeguard/core'

/** A scoped service that records how its scope ended. */
export class Probe {
  readonly context: OperationContext
  /** Times the scope disposed this probe (the container's disposer). */
  disposeCount = 0
  /** Times the adapter called `context.dispose()`. */
  disposeCalls = 0
  operationAtDispose: string | undefined
  sawAbort = false
  disposedWhileRunning = false

  constructor(context: OperationContext) {
    this.context = context
    // Counts the adapter's calls: core's dispose() is idempotent, so the disposer alone could hide a second call.
    const dispose = context.dispose.bind(context)
    ;(context as { dispose: () => Promise<void> }).dispose = () => {
      this.disposeCalls++
      return dispose()
    }
  }

  disposed(): void {
    this.disposeCount++
    this.operationAtDispose = this.context.operation
  }
}

/**
 * The scopes the container created for one request id, whether or not a route ran (a 404's), and the
 * adapter's calls to their operations' `dispose()`.
 */
export class ScopeRecord {
  readonly contexts: OperationContext[] = []
  /** Times the adapter called `context.dispose()`, on any of them. */
  disposeCalls = 0

  /** Scopes created for the request id. */
  get created(): number {
    return this.contexts.length
  }

  /** True once every scope created for it is disposed (false while there is none). */
  get disposed(): boolean {
    return this.contexts.length > 0 && this.contexts.every((context) => context.disposed)
  }

  watch(context: OperationContext): void {
    this.contexts.push(context)
    // Counts the adapter's calls: core's dispose() is idempotent, so the scope alone could hide a second call.
    const dispose = context.dispose.bind(context)
    ;(context as { dispose: () => Promise<void> }).dispose = () => {
      this.disposeCalls++
      return dispose()
    }
  }
}

/** The container every conformance server uses, and what it observed. */
export interface Fixture {
  readonly container: ServiceContainer<any>
  /** Probes by request id. */
  readonly probes: Map<string, Probe>
  /** Failures the container reported through `onError`. */
  readonly reported: unknown[]
  /** Scoped `tracked` instances created and disposed, and weak references to every 50th one's context. */
  readonly tracked: { created: number; disposed: number; sample: WeakRef<OperationContext>[] }
  /**
   * Records the scopes created from now on for requests with this id (only those: nothing is kept for the
   * others, whose contexts must be free to go).
   */
  watchScopes(requestId: string): ScopeRecord
}

// The part of a scope that is watched: the operation's context is provided to it as it is made.
interface ProvidingScope {
  provide(name: string, value: unknown): unknown
}

/**
 * A fresh container with a singleton, scoped probes, a scoped service whose disposer fails, and a counter;
 * `setup` registers more (a database pool).
 */
export function createFixture(setup?: (container: ServiceContainer<any>) => void): Fixture {
  const probes = new Map<string, Probe>()
  const reported: unknown[] = []
  const tracked = { created: 0, disposed: 0, sample: [] as WeakRef<OperationContext>[] }
  const container = createServiceContainer<any>({ onError: (error) => reported.push(error) })
    .singleton('clock', () => ({ now: () => Date.now() }))
    .scoped(
      'probe',
      (r) => {
        const probe = new Probe(r.resolve('operationContext') as OperationContext)
        probes.set(probe.context.requestId ?? '', probe)
        return probe
      },
      { dispose: (probe) => probe.disposed() },
    )
    .scoped('faulty', () => ({ faulty: true }), {
      dispose: () => {
        throw new Error('Disposer failed on purpose.')
      },
    })
    .scoped(
      'tracked',
      (r) => {
        if (++tracked.created % 50 === 0) tracked.sample.push(new WeakRef(r.resolve('operationContext') as OperationContext))
        return { n: tracked.created }
      },
      { dispose: () => void tracked.disposed++ },
    )
  setup?.(container)
  const watched = new Map<string, ScopeRecord>()
  // Every operation's context is provided to its new scope: seen there, a request no route answered is seen too.
  const createScope = container.createScope.bind(container)
  container.createScope = () => {
    const scope = createScope()
    if (watched.size === 0) return scope
    const providing = scope as unknown as ProvidingScope
    const provide = providing.provide.bind(scope)
    providing.provide = (name, value) => {
      const record = name === 'operationContext' ? watched.get((value as OperationContext).requestId ?? '') : undefined
      record?.watch(value as OperationContext)
      return provide(name, value)
    }
    return scope
  }
  const watchScopes = (requestId: string): ScopeRecord => {
    const record = new ScopeRecord()
    watched.set(requestId, record)
    return record
  }
  return { container, probes, reported, tracked, watchScopes }
}
