import { AsyncLocalStorage } from 'node:async_hooks'
import { OperationAbortedError, OperationContext, PoolClosedError, PoolExhaustedError, PoolTimeoutError } from '@lifeguard/core'
import { liveOperation, refusedForAbort, type AdmissionQueue, type Checkout, type PoolMonitor } from '@lifeguard/core/adapter'
import type { HandleEnd } from './handle-end.js'
import type { Redact } from './redacting-streams.js'

/** Runs one operation under some admission rule. */
export type Admit = <R>(operation: () => Promise<R>) => Promise<R>

/**
 * The admission slot the running code holds, carried by `AsyncLocalStorage`. A gated call made inside a held
 * slot of the same pool (a callback of `cursor.forEach`, a nested call in a transaction) runs in that slot
 * instead of queueing for a second one, which could deadlock a full pool.
 */
interface Held {
  readonly gate: Gate
  /** Set on a lease: calls in its scope run one at a time under the lease's slot. */
  readonly lease: LeaseSlot | undefined
  /**
   * Made on the first nested call of an operation's own scope (a `cursor.forEach` callback): its nested
   * calls run one at a time in it, as a lease's do, and the operation keeps its slot until they are done.
   */
  nested: LeaseSlot | undefined
  readonly parent: Held | undefined
  active: boolean
  /**
   * The operation the slot's work began in, while it was live (a lease's: what it was acquired for): its abort
   * refuses the rest of that work even once its disposal has begun (a handler still running after Express gave
   * up on its client).
   */
  readonly owner: Abortable | undefined
}

// One storage for every pool in the process (each entry names its gate), so N pools cost one async hook.
const held = new AsyncLocalStorage<Held>()

// The slot the calling code holds in `gate`: not a lease's once it is released (its slot may be another's by
// now), so a call that outlives the release waits for a slot of its own.
function find(gate: Gate): Held | undefined {
  for (let scope = held.getStore(); scope !== undefined; scope = scope.parent) {
    if (scope.gate === gate && scope.active && scope.lease?.released !== true) return scope
  }
  return undefined
}

/** What can abort an operation: a signal, or an operation context (whose signal is made only when needed). */
export type Abortable = AbortSignal | OperationContext

/** Where to take what aborts a waiting operation from: a fixed signal or context, or the current context. */
export type SignalSource = Abortable | (() => Abortable | undefined) | undefined

/** What the gate needs from its pool besides the queue and the monitor. */
export interface GateHooks {
  /** Every admitted slot became free. */
  onIdle(): void
  /** Work to finish before an admitted operation runs (reconnecting a closed client), or `undefined`. */
  prepare(): Promise<void> | undefined
  /** True once the pool has closed: a slot still held (a lease kept past close()'s timeout) runs nothing more. */
  closed(): boolean
}

/**
 * Admission in front of the driver: every gated operation holds one of `maxSize` slots while it runs, so no
 * more than `maxSize` connections are ever in use, whatever the driver's fixed `maxPoolSize`. Records each
 * admitted operation with the pool monitor (wait, use, owner, leaks).
 */
export class Gate {
  readonly #queue: AdmissionQueue
  readonly #monitor: PoolMonitor
  readonly #hooks: GateHooks

  constructor(queue: AdmissionQueue, monitor: PoolMonitor, hooks: GateHooks) {
    this.#queue = queue
    this.#monitor = monitor
    this.#hooks = hooks
  }

  /**
   * Runs `operation` in a slot: the one held by the calling code, else a new one (waiting if needed). Once
   * `end` (its handle's) has ended, a call still waiting for that new slot is refused, and one granted it
   * gives it back unused.
   */
  run<R>(operation: () => Promise<R>, signal?: SignalSource, end?: HandleEnd): Promise<R> {
    const scope = find(this)
    const source = typeof signal === 'function' ? signal() : signal
    if (scope !== undefined) {
      // A slot already held (a transaction, a lease) sends nothing more once the operation has aborted:
      // a transaction's next write would otherwise still go out, and then its commit.
      const aborted = scope.owner?.aborted === true ? scope.owner : source?.aborted === true ? source : undefined
      if (aborted !== undefined) return Promise.reject(this.abortedError(aborted, 'run a command on'))
      // Nested calls run one at a time: the driver's `forEach` does not await its callback, so its calls
      // would otherwise all run at once, each on a connection of its own.
      return (scope.lease ?? (scope.nested ??= new LeaseSlot(this))).run(operation)
    }
    let checkout: Checkout | undefined
    try {
      // An operation already aborted (its client left) gets no slot, even a free one, unless it is being
      // disposed (see `refusedForAbort`): the queue refuses it.
      checkout = refusedForAbort(source) ? undefined : this.#tryAdmit(source)
    } catch (error) {
      return Promise.reject(error)
    }
    if (checkout !== undefined) return this.#runAdmitted(checkout, operation, end)
    return this.#wait(source, end).then((admitted) => this.#runAdmitted(admitted, operation, end))
  }

  /** The error for work refused because `source` aborted: `action` is followed by the pool's name. */
  abortedError(source: Abortable, action: string): OperationAbortedError {
    // A context may come from another installed copy of core: tell it from a signal by the signal's class.
    const reason: unknown = source instanceof AbortSignal ? source.reason : source.signal.reason
    return new OperationAbortedError(`${action} pool '${this.#monitor.events.pool}'`, { cause: reason })
  }

  /** Refused work of a slot held past the pool's close (the client is closed: the driver would say "not connected"). */
  closedError(): PoolClosedError | undefined {
    return this.#hooks.closed() ? new PoolClosedError(this.#monitor.events.pool, 'run a command on') : undefined
  }

  /** True when the calling code holds a slot of this pool (a lease, a transaction, an operation's callback). */
  holds(): boolean {
    return find(this) !== undefined
  }

  /**
   * Takes a slot, waiting if needed, and starts its monitor checkout.
   *
   * @throws {PoolExhaustedError} @throws {PoolTimeoutError} @throws {OperationAbortedError} @throws {PoolClosedError}
   * @throws end's refusal once `end` has ended before the slot is ready
   */
  async admit(signal?: SignalSource, end?: HandleEnd): Promise<Checkout> {
    const source = typeof signal === 'function' ? signal() : signal
    const checkout = (refusedForAbort(source) ? undefined : this.#tryAdmit(source)) ?? (await this.#wait(source, end))
    const preparing = this.#hooks.prepare()
    if (preparing !== undefined) {
      try {
        await preparing
      } catch (error) {
        this.release(checkout)
        throw this.redact(error)
      }
    }
    // Ended while the slot was handed over or the client reconnected: the next waiter gets the slot.
    if (end?.ended === true) {
      this.release(checkout)
      throw end.refusal()
    }
    return checkout
  }

  /** Gives a slot back and ends its monitor checkout. */
  release(checkout: Checkout): void {
    this.#monitor.released(checkout)
    this.#queue.release()
    if (this.#queue.active === 0) this.#hooks.onIdle()
  }

  /**
   * Runs `operation` with `slot` marked as held by this code, so nested gated calls use it; `owner` (a lease's)
   * is what refuses them once it aborts, else the operation it began in.
   */
  runHeld<R>(slot: LeaseSlot | undefined, operation: () => Promise<R>, owner?: Abortable): Promise<R> {
    const parent = held.getStore()
    const scope: Held = { gate: this, lease: slot, nested: undefined, parent, active: true, owner: owner ?? parent?.owner ?? liveOperation() }
    // Later calls queue for a slot of their own; those already queued in this scope still run in it, so the
    // slot is held until they are done.
    const done = (): Promise<void> | undefined => {
      scope.active = false
      return scope.nested?.idle()
    }
    let result: Promise<R>
    try {
      // A body that returns a value rather than a promise (`lease.run(() => 5)`) is taken as resolved.
      result = Promise.resolve(held.run(scope, operation))
    } catch (error) {
      done()
      return Promise.reject(this.redact(error))
    }
    return result.then(
      (value) => {
        const draining = done()
        return draining === undefined ? value : draining.then(() => value)
      },
      (error: unknown) => {
        const draining = done()
        if (draining === undefined) throw this.redact(error)
        return draining.then(() => {
          throw this.redact(error)
        })
      },
    )
  }

  /**
   * The driver's errors reach the caller as the pool's events do: a server's reply may quote the connection
   * string or a password. An error with nothing to remove is passed on as it is (the same object). Bound, so
   * that it can be handed on (to what a gated object returns ungated: change streams, Node streams).
   */
  readonly redact: Redact = (error) => (error instanceof Error ? this.#monitor.stats.redact(error) : error)

  #tryAdmit(source: Abortable | undefined): Checkout | undefined {
    // Throws PoolClosedError once the pool is closing.
    return this.#queue.tryAcquire() ? this.#acquired(0, source) : undefined
  }

  async #wait(source: Abortable | undefined, end: HandleEnd | undefined): Promise<Checkout> {
    // On the pool's clock, as the admission's timeout is: a manual one in tests.
    const clock = this.#monitor.clock
    const started = clock.now()
    const own = waitSignal(source)
    try {
      await (end === undefined ? this.#queue.acquire(own) : end.during(own, (signal) => this.#queue.acquire(signal)))
    } catch (error) {
      // Several waiters time out together: by the time each hears of it, the others have left the queue.
      if (error instanceof PoolTimeoutError) this.#monitor.timedOut(clock.now() - started, error.waiting ?? this.#queue.waiting, error.cause)
      else if (error instanceof PoolExhaustedError) this.#monitor.rejected()
      else if (error instanceof OperationAbortedError && error.queued) this.#monitor.abandoned()
      // Left the queue as its handle was disposed: refused as the handle refuses any call from then on.
      if (end?.cut(error) === true) throw end.refusal()
      throw error
    }
    return this.#acquired(clock.now() - started, source)
  }

  // Starts the monitor's checkout, owned by `ownerOf(source)`: given explicitly, as `undefined` (no one's) too.
  #acquired(waitMillis: number, source: Abortable | undefined): Checkout {
    const monitor = this.#monitor
    return monitor.acquiredBy(waitMillis, ownerOf(source), monitor.captureOrigin(), monitor.clock.now())
  }

  async #runAdmitted<R>(checkout: Checkout, operation: () => Promise<R>, end: HandleEnd | undefined): Promise<R> {
    try {
      return await this.runPrepared(operation, end)
    } finally {
      this.release(checkout)
    }
  }

  /**
   * Runs `operation` in a slot already held, once the client is ready (a client the driver closed on its own
   * is reconnected first, for a lease's call as for any other). Refused instead once `end` has ended.
   */
  async runPrepared<R>(operation: () => Promise<R>, end?: HandleEnd): Promise<R> {
    const preparing = this.#hooks.prepare()
    if (preparing !== undefined) {
      // Reconnecting runs outside runHeld, but its error (a server reply) may quote the URI all the same.
      await preparing.catch((error: unknown) => {
        throw this.redact(error)
      })
    }
    // Ended while the slot was handed over or the client reconnected: nothing is sent, and the slot goes back.
    if (end?.ended === true) throw end.refusal()
    return this.runHeld(undefined, operation)
  }
}

/**
 * One slot held across several calls (a lease or a transaction): its calls run one at a time, like the
 * commands of one checked-out connection.
 */
export class LeaseSlot {
  readonly #gate: Gate
  #tail: Promise<unknown> = Promise.resolve()
  #released = false
  // Calls queued or running in it: the slot is given back only once they are done.
  #inFlight = 0

  constructor(gate: Gate) {
    this.#gate = gate
  }

  get released(): boolean {
    return this.#released
  }

  /** Resolves once every call queued so far has finished (never rejects). */
  idle(): Promise<void> {
    return this.#tail as Promise<void>
  }

  /** Queues `operation` behind the lease's earlier calls. */
  run<R>(operation: () => Promise<R>): Promise<R> {
    const closed = this.#gate.closedError()
    if (closed !== undefined) return Promise.reject(closed)
    this.#inFlight++
    const next = this.#tail.then(() => this.#gate.runPrepared(operation))
    this.#tail = next.then(
      () => void this.#inFlight--,
      () => void this.#inFlight--,
    )
    return next
  }

  /**
   * Marks the slot released and calls `giveBack` once the calls still queued or running in it are done (at
   * once when none is): given back earlier, the next holder's connection would be opened beside theirs, over
   * `maxSize`.
   */
  release(giveBack: () => void): void {
    this.#released = true
    if (this.#inFlight === 0) return giveBack()
    void this.#tail.then(giveBack)
  }

  /** Runs `body` (user code) so that the gated calls it makes run in this lease. */
  scope<R>(body: () => Promise<R>, owner?: Abortable): Promise<R> {
    return this.#gate.runHeld(this, body, owner)
  }
}

// What ends a wait early: the caller's signal, or its operation's; an aborted operation's disposer waits
// as work of no operation does, bounded by the acquire timeout.
function waitSignal(source: Abortable | undefined): AbortSignal | undefined {
  if (source === undefined || source instanceof AbortSignal) return source
  return source.aborted && source.disposed ? undefined : source.signal
}

// Whose work a slot is: the operation a handle belongs to, also when it is called outside its `run()` (Koa
// and Hono dispose outside the request's context), else the current one. An ended operation's is no one's.
function ownerOf(source: Abortable | undefined): OperationContext | undefined {
  if (source === undefined || source instanceof AbortSignal) return liveOperation()
  return source.ended === true ? undefined : source
}

/** The current operation context, whose signal is created only when a caller really has to wait. */
export function currentContext(): OperationContext | undefined {
  return liveOperation()
}
