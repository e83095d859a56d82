import { AsyncLocalStorage } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'
import { OperationContext, PoolTimeoutError } from '@lifeguard/core'
import { type AdmissionQueue, type Checkout, type PoolMonitor } from '@lifeguard/core/adapter'

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
  readonly parent: Held | undefined
  active: boolean
}

// One storage for every pool in the process (each entry names its gate), so N pools cost one async hook.
const held = new AsyncLocalStorage<Held>()

function find(gate: Gate): Held | undefined {
  for (let scope = held.getStore(); scope !== undefined; scope = scope.parent) {
    if (scope.gate === gate && scope.active) return scope
  }
  return undefined
}

/** Where to take the abort signal of a waiting operation from: a fixed one, or the current context's. */
export type SignalSource = AbortSignal | (() => AbortSignal | undefined) | undefined

/** What the gate needs from its pool besides the queue and the monitor. */
export interface GateHooks {
  /** Every admitted slot became free. */
  onIdle(): void
  /** Work to finish before an admitted operation runs (reconnecting a closed client), or `undefined`. */
  prepare(): Promise<void> | undefined
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

  /** Runs `operation` in a slot: the one held by the calling code, else a new one (waiting if needed). */
  run<R>(operation: () => Promise<R>, signal?: SignalSource): Promise<R> {
    const scope = find(this)
    if (scope !== undefined) return scope.lease === undefined ? operation() : scope.lease.run(operation)
    let checkout: Checkout | undefined
    try {
      checkout = this.#tryAdmit()
    } catch (error) {
      return Promise.reject(error)
    }
    if (checkout !== undefined) return this.#runAdmitted(checkout, operation)
    return this.#wait(signal).then((admitted) => this.#runAdmitted(admitted, operation))
  }

  /**
   * Takes a slot, waiting if needed, and starts its monitor checkout.
   *
   * @throws {PoolExhaustedError} @throws {PoolTimeoutError} @throws {OperationAbortedError} @throws {PoolClosedError}
   */
  async admit(signal?: SignalSource): Promise<Checkout> {
    const checkout = this.#tryAdmit() ?? (await this.#wait(signal))
    const preparing = this.#hooks.prepare()
    if (preparing !== undefined) {
      try {
        await preparing
      } catch (error) {
        this.release(checkout)
        throw error
      }
    }
    return checkout
  }

  /** Gives a slot back and ends its monitor checkout. */
  release(checkout: Checkout): void {
    this.#monitor.released(checkout)
    this.#queue.release()
    if (this.#queue.active === 0) this.#hooks.onIdle()
  }

  /** Runs `operation` with `slot` marked as held by this code, so nested gated calls use it. */
  runHeld<R>(slot: LeaseSlot | undefined, operation: () => Promise<R>): Promise<R> {
    const scope: Held = { gate: this, lease: slot, parent: held.getStore(), active: true }
    const done = () => {
      scope.active = false
    }
    let result: Promise<R>
    try {
      result = held.run(scope, operation)
    } catch (error) {
      done()
      return Promise.reject(this.#safe(error))
    }
    return result.then(
      (value) => {
        done()
        return value
      },
      (error: unknown) => {
        done()
        throw this.#safe(error)
      },
    )
  }

  // The driver's errors reach the caller as the pool's events do: a server's reply may quote the connection
  // string or a password. An error with nothing to remove is passed on as it is (the same object).
  #safe(error: unknown): unknown {
    return error instanceof Error ? this.#monitor.stats.redact(error) : error
  }

  #tryAdmit(): Checkout | undefined {
    // Throws PoolClosedError once the pool is closing.
    return this.#queue.tryAcquire() ? this.#monitor.acquired(0) : undefined
  }

  async #wait(signal: SignalSource): Promise<Checkout> {
    const started = performance.now()
    try {
      await this.#queue.acquire(typeof signal === 'function' ? signal() : signal)
    } catch (error) {
      if (error instanceof PoolTimeoutError) this.#monitor.timedOut(performance.now() - started, this.#queue.waiting, error.cause)
      throw error
    }
    return this.#monitor.acquired(performance.now() - started)
  }

  async #runAdmitted<R>(checkout: Checkout, operation: () => Promise<R>): Promise<R> {
    try {
      const preparing = this.#hooks.prepare()
      if (preparing !== undefined) await preparing
      return await this.runHeld(undefined, operation)
    } finally {
      this.release(checkout)
    }
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

  constructor(gate: Gate) {
    this.#gate = gate
  }

  get released(): boolean {
    return this.#released
  }

  markReleased(): void {
    this.#released = true
  }

  /** Queues `operation` behind the lease's earlier calls. */
  run<R>(operation: () => Promise<R>): Promise<R> {
    const next = this.#tail.then(() => this.#gate.runHeld(undefined, operation))
    this.#tail = next.then(
      () => undefined,
      () => undefined,
    )
    return next
  }

  /** Runs `body` (user code) so that the gated calls it makes run in this lease. */
  scope<R>(body: () => Promise<R>): Promise<R> {
    return this.#gate.runHeld(this, body)
  }
}

/** The signal of the current operation context, created only when a caller really has to wait. */
export function currentSignal(): AbortSignal | undefined {
  return OperationContext.tryCurrent()?.signal
}
