// A connection factory for the pool engine's unit tests: connections are plain objects, every create
// can be held, failed or answered at once, and a connection can be broken from the outside as a
// driver's socket error would.
import { ManualClock } from '@lifeguard/test-kit'
import { PoolEngine, PoolMonitor, type ConnectionFactory, type CreateAttempt, type PoolEngineOptions } from '../../src/adapter.js'
import type { PoolEventMap, PoolEventName } from '../../src/index.js'
import { deferred, type Deferred } from './async.js'

/** A connection made by the fake factory. */
export interface FakeConnection {
  readonly id: number
  broken: boolean
  destroyed: boolean
  /** How many times it was validated. */
  validations: number
}

interface PendingCreate {
  readonly attempt: CreateAttempt<FakeConnection>
  readonly result: Deferred<FakeConnection>
}

/** A fake driver: answers creates at once (`auto`) or on demand, and records everything. */
export class FakeFactory implements ConnectionFactory<FakeConnection> {
  /** Answer creates at once with a new connection (default); false: hold them in `pending`. */
  auto = true
  /** Fail the next creates with these errors, in order. */
  readonly failures: Error[] = []
  /** Errors that are permanent (given to waiters at once). */
  readonly permanent = new Set<Error>()
  /** Validation answers, in order (default true). */
  readonly validations: (boolean | Error)[] = []
  readonly pending: PendingCreate[] = []
  readonly created: FakeConnection[] = []
  readonly destroyed: FakeConnection[] = []
  /** Held creates go on when their attempt's signal aborts (a driver that ignores it); default false. */
  ignoreAborts = false
  /** Hold every close until `finishCloses()` (default false: a close is done at once). */
  holdCloses = false
  readonly #closing: Deferred<void>[] = []
  readonly #attempts = new Map<FakeConnection, CreateAttempt<FakeConnection>>()
  #next = 1

  create(attempt: CreateAttempt<FakeConnection>): Promise<FakeConnection> {
    const failure = this.failures.shift()
    if (failure !== undefined) return Promise.reject(failure)
    if (this.auto) return Promise.resolve(this.#make(attempt))
    const result = deferred<FakeConnection>()
    this.pending.push({ attempt, result })
    if (!this.ignoreAborts) attempt.signal.addEventListener('abort', () => result.reject(new Error('aborted by the pool')), { once: true })
    return result.promise
  }

  /** Answers the oldest held create with a new connection. */
  openNext(): FakeConnection {
    const next = this.pending.shift()
    if (next === undefined) throw new Error('No create is pending.')
    const connection = this.#make(next.attempt)
    next.result.resolve(connection)
    return connection
  }

  /** Fails the oldest held create. */
  failNext(error: Error): void {
    const next = this.pending.shift()
    if (next === undefined) throw new Error('No create is pending.')
    next.result.reject(error)
  }

  validate(connection: FakeConnection): Promise<boolean> {
    connection.validations++
    const answer = this.validations.shift() ?? true
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer)
  }

  destroy(connection: FakeConnection): Promise<void> | undefined {
    connection.destroyed = true
    this.destroyed.push(connection)
    if (!this.holdCloses) return undefined
    const closed = deferred<void>()
    this.#closing.push(closed)
    return closed.promise
  }

  /** Ends every close held so far, as a driver's socket would once the server let go. */
  finishCloses(): void {
    for (const closed of this.#closing.splice(0)) closed.resolve()
  }

  isBroken(connection: FakeConnection): boolean {
    return connection.broken
  }

  permanentError(error: Error): Error | undefined {
    return [...this.permanent].some((p) => p.message === error.message) ? error : undefined
  }

  idOf(connection: FakeConnection): number {
    return connection.id
  }

  /** Breaks a connection as its driver would report it (socket error). */
  breakConnection(connection: FakeConnection, error = new Error('socket closed')): void {
    connection.broken = true
    this.#attempts.get(connection)?.broken(error)
  }

  #make(attempt: CreateAttempt<FakeConnection>): FakeConnection {
    const connection: FakeConnection = { id: this.#next++, broken: false, destroyed: false, validations: 0 }
    this.created.push(connection)
    this.#attempts.set(connection, attempt)
    return connection
  }
}

/** An engine on a fake factory and a manual clock, with every event recorded. */
export function fakeEngine(options: Partial<Omit<PoolEngineOptions<FakeConnection>, 'factory' | 'monitor'>> & { leakDetectionMillis?: number } = {}) {
  const clock = new ManualClock()
  const factory = new FakeFactory()
  const events: { [E in PoolEventName]?: PoolEventMap[E][] } = {}
  const record = <E extends PoolEventName>(event: E) => (payload: PoolEventMap[E]) => {
    ;((events[event] ??= []) as PoolEventMap[E][]).push(payload)
  }
  const { leakDetectionMillis, ...engineOptions } = options
  const monitor = new PoolMonitor({
    name: 'fake',
    kind: 'fake',
    target: 'fake://db',
    clock,
    leakDetectionMillis,
    events: {
      onConnect: record('connect'),
      onDisconnect: record('disconnect'),
      onError: record('error'),
      onAcquire: record('acquire'),
      onRelease: record('release'),
      onResize: record('resize'),
      onLeak: record('leak'),
      onTimeout: record('timeout'),
      onSuspend: record('suspend'),
      onResume: record('resume'),
    },
  })
  const engine = new PoolEngine<FakeConnection>({
    name: 'fake',
    target: 'fake://db',
    factory,
    monitor,
    minSize: 0,
    maxSize: 3,
    acquireTimeoutMillis: 1000,
    connectTimeoutMillis: 500,
    idleTimeoutMillis: 10_000,
    maxLifetimeMillis: 0,
    maxLifetimeJitterMillis: 0,
    validateAfterIdleMillis: 60_000,
    maxUses: Infinity,
    retryCreate: true,
    ...engineOptions,
  })
  /** Every count at once, to compare with what a step should leave. */
  const counts = () => ({ total: engine.totalCount, active: engine.activeCount, idle: engine.idleCount, pending: engine.pendingCount, waiting: engine.waitingCount })
  return { engine, factory, clock, monitor, events, counts }
}
