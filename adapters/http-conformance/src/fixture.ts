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

/** The container every conformance server uses, and what it observed. */
export interface Fixture {
  readonly container: ServiceContainer<any>
  /** Probes by request id. */
  readonly probes: Map<string, Probe>
  /** Failures the container reported through `onError`. */
  readonly reported: unknown[]
  /** Scoped `tracked` instances created and disposed, and weak references to every 50th one's context. */
  readonly tracked: { created: number; disposed: number; sample: WeakRef<OperationContext>[] }
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
  return { container, probes, reported, tracked }
}
