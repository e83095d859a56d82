import { DisposedError } from '@lifeguard/core'
import { checkOption, type Checkout } from '@lifeguard/core/adapter'
import type { Collection, CollectionOptions, Db, DbOptions, Document } from 'mongodb'
import { LeaseSlot, type Abortable, type Admit } from './internal/gate.js'
import { gated } from './internal/gated-proxy.js'
import { OpenCursors } from './internal/open-cursors.js'
import { collectionNameRule, databaseNameRule } from './internal/names.js'
import type { PoolAccess } from './internal/pool-access.js'

/**
 * One admission slot of a pool, held until `release()`: the MongoDB counterpart of a checked-out connection.
 * Its operations run one at a time and never wait for admission; leak detection watches how long it is held.
 * Take one to reserve capacity for a batch, or to run a sequence that must not queue between its steps.
 *
 * @example
 * await using lease = await pool.acquire()
 * await lease.collection('orders').insertOne({ sku: 'a' })
 */
export class MongoLease implements AsyncDisposable {
  readonly #pool: PoolAccess
  readonly #checkout: Checkout
  readonly #slot: LeaseSlot
  readonly #admit: Admit
  readonly #owner: Abortable | undefined
  // Closed at the release, as a handle's at its disposal.
  readonly #cursors = new OpenCursors()

  /**
   * @internal use `pool.acquire()`
   * @param owner - what the lease was acquired for (the caller's signal, or the operation current then): once it
   *   aborts, the lease sends nothing more, as a transaction's slot does
   */
  constructor(pool: PoolAccess, checkout: Checkout, owner?: Abortable) {
    this.#pool = pool
    this.#checkout = checkout
    this.#slot = new LeaseSlot(pool.gate)
    this.#owner = owner
    this.#admit = (operation) => {
      if (this.#slot.released) return Promise.reject(this.#releasedError())
      if (owner?.aborted === true) return Promise.reject(pool.gate.abortedError(owner, 'run a command on'))
      return this.#slot.run(operation)
    }
  }

  /** True once released. */
  get released(): boolean {
    return this.#slot.released
  }

  /**
   * A database whose operations run in this lease.
   *
   * @param name - default: the pool's `dbName`
   * @throws {DisposedError} after `release()`
   */
  db(name?: string, options?: DbOptions): Db {
    if (this.#slot.released) throw this.#releasedError()
    if (name !== undefined) checkOption('MongoLease.db', 'name', name, databaseNameRule)
    return gated(this.#pool.client.db(name ?? this.#pool.dbName, options), this.#admit, this.#pool.gate.redact, this.#cursors.opened)
  }

  /**
   * A collection of the pool's database whose operations run in this lease.
   *
   * @throws {DisposedError} after `release()`
   */
  collection<T extends Document = Document>(name: string, options?: CollectionOptions): Collection<T> {
    checkOption('MongoLease.collection', 'name', name, collectionNameRule)
    return this.db().collection<T>(name, options)
  }

  /**
   * Runs `body` so that every operation of this pool it makes, through any handle, runs in this lease.
   *
   * @throws {InvalidOptionError} for a `body` that is not a function
   * @throws {DisposedError} after `release()`
   */
  run<R>(body: () => Promise<R> | R): Promise<R> {
    try {
      checkOption('MongoLease.run', 'body', body, { type: 'function' })
    } catch (error) {
      // As a rejection: `run()` reports every failure the same way.
      return Promise.reject(error)
    }
    if (this.#slot.released) return Promise.reject(this.#releasedError())
    // Its owner aborted: the body would run, and what it sends through other handles go out (they check the
    // owner of the scope, which is the lease's).
    const owner = this.#owner
    if (owner?.aborted === true) return Promise.reject(this.#pool.gate.abortedError(owner, 'run a command on'))
    return this.#slot.scope(body as () => Promise<R>, owner)
  }

  /**
   * Gives the slot back, once the operations still running in it have finished (new ones are refused at
   * once), and closes the cursors and change streams it handed out that are still open (in the background:
   * a `killCursors` to an unreachable server waits out server selection). Idempotent.
   */
  release(): void {
    if (this.#slot.released) return
    this.#slot.release(() => {
      this.#pool.gate.release(this.#checkout)
      void this.#cursors.closeAll()
    })
  }

  /** Same as `release()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release()
  }

  #releasedError(): DisposedError {
    return new DisposedError(`Could not use the lease of pool '${this.#pool.name}'. It was released.`)
  }
}
