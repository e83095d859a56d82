import { inspect } from 'node:util'
import { DisposedError, InvalidOptionError, OperationContext } from '@lifeguard/core'
import { checkOption, contextRule, validateOptions, type OptionRule } from '@lifeguard/core/adapter'
import { MongoExpiredSessionError, MongoRuntimeError, MongoTransactionError, type MongoError } from 'mongodb'
import type { ClientSession, ClientSessionOptions, Collection, CollectionOptions, Db, DbOptions, Document, Filter, FindCursor, FindOptions, TransactionOptions, WithId } from 'mongodb'
import { settlesWithin } from './internal/deadline.js'
import { currentContext, LeaseSlot, type Abortable, type Admit, type SignalSource } from './internal/gate.js'
import { gated } from './internal/gated-proxy.js'
import { HandleEnd } from './internal/handle-end.js'
import { OpenCursors } from './internal/open-cursors.js'
import { collectionNameRule, databaseNameRule } from './internal/names.js'
import type { PoolAccess } from './internal/pool-access.js'
import { poolAccess } from './internal/symbols.js'
import type { MongoPool } from './mongo-pool.js'

/**
 * The request-scoped face of a MongoDB pool (`context.mongodb`): databases and collections whose operations
 * go through the pool's admission, transactions, and sessions that are ended when the handle is disposed.
 *
 * @example
 * const orders = context.mongodb.collection<Order>('orders')
 * await orders.insertOne({ sku: 'a', qty: 1 })
 */
export class MongoHandle implements AsyncDisposable {
  /** The pool it runs on. */
  readonly pool: MongoPool
  /** The operation it belongs to (its signal bounds every wait), if any. */
  readonly context: OperationContext | undefined
  readonly #access: PoolAccess
  readonly #signal: SignalSource
  readonly #admit: Admit
  // Refuses the calls still waiting for a slot when the handle is disposed (its operation's end).
  readonly #end = new HandleEnd(() => this.#disposedError('run an operation', 'It was disposed (its operation ended) while the call waited for a connection'))
  readonly #sessions = new Set<ClientSession>()
  readonly #cursors = new OpenCursors()
  // The slots of transactions still running, each given back by its function. Disposal gives them back too:
  // it aborts the transaction, and `fn` may go on awaiting something else (a slow HTTP call) for as long as it likes.
  readonly #transactionSlots = new Set<() => void>()
  readonly #defaultCollection: string | undefined
  #disposing: Promise<void> | undefined

  /** @internal use `createMongoHandle()` or `registerMongo()` */
  constructor(pool: MongoPool, context?: OperationContext, defaultCollection?: string) {
    this.pool = pool
    this.context = context
    this.#defaultCollection = defaultCollection
    const access = pool[poolAccess]()
    this.#access = access
    // Without a context of its own, a wait follows whichever operation is current when it starts.
    this.#signal = context ?? currentContext
    this.#admit = (operation) => {
      if (this.#disposing !== undefined) return Promise.reject(this.#disposedError('run an operation'))
      return access.gate.run(operation, this.#signal, this.#end)
    }
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposing !== undefined
  }

  /**
   * A database whose operations go through the pool's admission.
   *
   * @param name - default: the pool's `dbName`
   * @throws {DisposedError} after `dispose()`
   */
  db(name?: string, options?: DbOptions): Db {
    this.#check('use a database')
    if (name !== undefined) checkOption('MongoHandle.db', 'name', name, databaseNameRule)
    return gated(this.#access.client.db(name ?? this.#access.dbName, options), this.#admit, this.#access.gate.redact, this.#cursors.opened)
  }

  /**
   * A collection of the pool's database (`dbName`) whose operations go through the pool's admission.
   *
   * @throws {DisposedError} after `dispose()`
   * @example
   * await context.mongodb.collection('orders').findOne({ _id: id })
   */
  collection<T extends Document = Document>(name: string, options?: CollectionOptions): Collection<T> {
    checkOption('MongoHandle.collection', 'name', name, collectionNameRule)
    return this.db().collection<T>(name, options)
  }

  /**
   * Starts a session (for causal consistency or a hand-run transaction); it is ended with the handle.
   *
   * @throws {DisposedError} after `dispose()`
   */
  startSession(options?: ClientSessionOptions): ClientSession {
    this.#check('start a session')
    const session = this.#access.client.startSession(options)
    // A session holds its client, whose options hold the connection string: logged, it shows its id only.
    Object.defineProperty(session, inspect.custom, { value: () => `ClientSession { id: ${inspect(session.id?.id)} }`, configurable: true })
    this.#sessions.add(session)
    session.once('ended', () => this.#sessions.delete(session))
    return session
  }

  /**
   * Runs `fn` in a transaction with the driver's retry rules (`session.withTransaction`) and returns its result.
   * The transaction holds one admission slot from start to commit: the operations in `fn` run in it one at a
   * time (pass `{ session }` to each, as the driver requires) and never queue behind other requests. Called
   * where the code already holds a slot of this pool (in `lease.run()`, in another transaction), it runs in
   * that slot.
   *
   * @throws {PoolTimeoutError} @throws {PoolExhaustedError} @throws {OperationAbortedError} while waiting for the slot
   * @throws {DisposedError} after `dispose()`
   * @throws {InvalidOptionError} for an `fn` that is not a function
   * @example
   * await context.mongodb.withTransaction(async (session) => {
   *   await context.mongodb.collection('accounts').updateOne({ _id: from }, { $inc: { balance: -10 } }, { session })
   *   await context.mongodb.collection('accounts').updateOne({ _id: to }, { $inc: { balance: 10 } }, { session })
   * })
   */
  async withTransaction<R>(fn: (session: ClientSession) => Promise<R>, options?: TransactionOptions): Promise<R> {
    checkOption('withTransaction', 'fn', fn, { type: 'function' })
    checkOption('withTransaction', 'options', options, { type: 'object', optional: true })
    this.#check('start a transaction')
    const gate = this.#access.gate
    // A second slot would wait for the one this code holds itself: on a full pool, until PoolTimeoutError.
    if (gate.holds()) {
      return this.#transaction(fn, options).catch((error: unknown) => {
        throw gate.redact(error)
      })
    }
    const checkout = await gate.admit(this.#signal, this.#end)
    const slot = new LeaseSlot(gate)
    // After an operation `fn` started and did not wait for, if one is still running.
    const giveBack = (): void => {
      if (!slot.released) slot.release(() => gate.release(checkout))
    }
    this.#transactionSlots.add(giveBack)
    try {
      return await slot.scope(() => this.#transaction(fn, options))
    } finally {
      this.#transactionSlots.delete(giveBack)
      giveBack()
    }
  }

  async #transaction<R>(fn: (session: ClientSession) => Promise<R>, options: TransactionOptions | undefined): Promise<R> {
    const session = this.startSession()
    const signal = this.#signal
    const gate = this.#access.gate
    // Taken as the transaction starts: its operation's abort counts even once that operation's disposal
    // has begun (which makes it no operation for calls that start later).
    const owner = typeof signal === 'function' ? signal() : signal
    const ownerNow = (): Abortable | undefined => owner ?? (typeof signal === 'function' ? signal() : signal)
    try {
      return await session.withTransaction(async (s) => {
        const result = await fn(s)
        // An operation that aborted while `fn` ran (a deadline, a client gone) does not commit: the
        // driver aborts the transaction on this error, as on any other from `fn`.
        const source = ownerNow()
        if (source?.aborted === true) throw gate.abortedError(source, 'commit a transaction on')
        return result
      }, options)
    } catch (error) {
      // Ended under it (its operation aborted or ended: `dispose()` ends the session, which aborts the
      // transaction): the driver's own abort then fails ("Cannot call abortTransaction twice"), hiding why.
      // Only those session errors: `fn`'s own error, and a commit whose outcome is unknown, pass as they are.
      if (this.#disposing === undefined || !endedSessionError(error)) throw error
      const source = ownerNow()
      if (source?.aborted === true) throw gate.abortedError(source, 'run a transaction on')
      throw new DisposedError(`Could not run a transaction on pool '${this.pool.name}'. Its handle was disposed (its operation ended) while it ran, so it was aborted.`)
    } finally {
      await endQuietly(session)
    }
  }

  // The seed document's calls on `context.mongodb` itself: operations on the default collection given to
  // `registerMongo(container, pool, { collection })`, through the pool's admission like any other.

  /** `insertOne` on the default collection. Rejects with `InvalidOptionError` without one. */
  insertOne(...args: Parameters<Collection['insertOne']>): ReturnType<Collection['insertOne']> {
    return this.#onDefault('insertOne', (collection) => collection.insertOne(...args))
  }
  /** `insertMany` on the default collection. Rejects with `InvalidOptionError` without one. */
  insertMany(...args: Parameters<Collection['insertMany']>): ReturnType<Collection['insertMany']> {
    return this.#onDefault('insertMany', (collection) => collection.insertMany(...args))
  }
  /** `findOne` on the default collection. Rejects with `InvalidOptionError` without one. */
  findOne(filter: Filter<Document> = {}, options?: FindOptions): Promise<WithId<Document> | null> {
    return this.#onDefault('findOne', (collection) => collection.findOne(filter, options))
  }
  /** `find` on the default collection (a cursor: its errors are thrown). @throws {InvalidOptionError} without one */
  find(filter: Filter<Document> = {}, options?: FindOptions): FindCursor<WithId<Document>> {
    return this.#default('find').find(filter, options)
  }
  /** `updateOne` on the default collection. Rejects with `InvalidOptionError` without one. */
  updateOne(...args: Parameters<Collection['updateOne']>): ReturnType<Collection['updateOne']> {
    return this.#onDefault('updateOne', (collection) => collection.updateOne(...args))
  }
  /** `updateMany` on the default collection. Rejects with `InvalidOptionError` without one. */
  updateMany(...args: Parameters<Collection['updateMany']>): ReturnType<Collection['updateMany']> {
    return this.#onDefault('updateMany', (collection) => collection.updateMany(...args))
  }
  /** `deleteOne` on the default collection. Rejects with `InvalidOptionError` without one. */
  deleteOne(...args: Parameters<Collection['deleteOne']>): ReturnType<Collection['deleteOne']> {
    return this.#onDefault('deleteOne', (collection) => collection.deleteOne(...args))
  }
  /** `deleteMany` on the default collection. Rejects with `InvalidOptionError` without one. */
  deleteMany(...args: Parameters<Collection['deleteMany']>): ReturnType<Collection['deleteMany']> {
    return this.#onDefault('deleteMany', (collection) => collection.deleteMany(...args))
  }
  /** `countDocuments` on the default collection. Rejects with `InvalidOptionError` without one. */
  countDocuments(...args: Parameters<Collection['countDocuments']>): ReturnType<Collection['countDocuments']> {
    return this.#onDefault('countDocuments', (collection) => collection.countDocuments(...args))
  }

  /**
   * Refuses the calls still waiting for a slot (`DisposedError`; they send nothing), closes the cursors it
   * handed out that are still open, and ends the sessions it started (aborting an open transaction). Waits up
   * to a second for the server's part (killCursors, abortTransaction): while the server is unreachable the
   * driver goes on trying in the background, for up to its `serverSelectionTimeoutMS`. Idempotent.
   */
  dispose(): Promise<void> {
    if (this.#disposing === undefined) this.#end.end()
    this.#disposing ??= this.#cleanUp()
    return this.#disposing
  }

  /** Same as `dispose()`; lets a `ServiceScope` or `await using` dispose the handle. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose()
  }

  async #cleanUp(): Promise<void> {
    if (this.#cursors.size === 0 && this.#sessions.size === 0 && this.#transactionSlots.size === 0) return
    // Cursors first: one may run in a session of this handle.
    const cleanUp = this.#cursors.closeAll().then(() => Promise.all([...this.#sessions].map(endQuietly)))
    // Awaited, but only briefly: a reachable server has killed the cursors and aborted the transactions by then,
    // while an unreachable one would hold every disposal for the driver's server selection (30 s by default).
    await settlesWithin(cleanUp, CLEAN_UP_WAIT_MILLIS, this.#access.clock)
    // Their sessions ended, the transactions still running send nothing more (this handle refuses every call
    // now): their slots go back, after any call still running in one.
    for (const giveBack of this.#transactionSlots) giveBack()
  }

  // A call that returns a promise rejects it, rather than throwing, without a default collection or once
  // disposed: `handle.insertOne(doc).catch(log)` and `Promise.allSettled` see the error.
  #onDefault<R>(method: string, call: (collection: Collection) => Promise<R>): Promise<R> {
    let collection: Collection
    try {
      collection = this.#default(method)
    } catch (error) {
      return Promise.reject(error)
    }
    return call(collection)
  }

  #default(method: string): Collection {
    if (this.#defaultCollection === undefined) {
      throw new InvalidOptionError(
        'collection',
        'a default collection',
        `Could not run ${method}() on the MongoDB handle of pool '${this.#access.name}'. It has no default collection: register one with registerMongo(container, pool, { collection: 'events' }), or name it: context.mongodb.collection('events').${method}(...).`,
      )
    }
    return this.collection(this.#defaultCollection)
  }

  #check(action: string): void {
    if (this.#disposing !== undefined) throw this.#disposedError(action)
  }

  #disposedError(action: string, reason = 'The handle is disposed'): DisposedError {
    return new DisposedError(`Could not ${action} with the MongoDB handle of pool '${this.#access.name}'. ${reason}.`)
  }
}

/**
 * A handle on `pool` for one operation (or for a block: `await using mongo = createMongoHandle(pool)`).
 * `registerMongo()` creates one per operation scope for you.
 *
 * @throws {InvalidOptionError} for a pool of the wrong kind, or bad options
 * @example
 * await using mongo = createMongoHandle(pool)
 * await mongo.collection('orders').insertOne({ sku: 'a' })
 */
export function createMongoHandle(pool: MongoPool, context?: OperationContext, options: { collection?: string } = {}): MongoHandle {
  checkMongoPool('createMongoHandle', pool)
  checkOption('createMongoHandle', 'context', context, { ...contextRule, optional: true })
  validateOptions('createMongoHandle', options, { collection: collectionRule })
  return new MongoHandle(pool, context, options.collection)
}

/** The rule for a default collection's name. */
export const collectionRule: OptionRule = { ...collectionNameRule, optional: true }

/**
 * Refuses anything but a pool from `createMongoPool()`, when it is given rather than on the handle's first use.
 *
 * @throws {InvalidOptionError} naming `pool`
 */
export function checkMongoPool(where: string, pool: unknown): void {
  checkOption(where, 'pool', pool, { type: 'custom', expected: 'a pool from createMongoPool()', check: (v) => typeof (v as { [poolAccess]?: unknown } | null)?.[poolAccess] === 'function' })
}

// How long `dispose()` waits for its cursors' killCursors and its transactions' aborts: a round trip or
// two on a reachable server; what is still running then goes on in the background.
const CLEAN_UP_WAIT_MILLIS = 1000

// Ending a session only returns it to the driver's session pool (aborting an open transaction first); a
// failure there must not hide the operation's own outcome.
async function endQuietly(session: ClientSession): Promise<void> {
  try {
    await session.endSession()
  } catch {
    // The driver already squashes abort errors here; nothing left to report.
  }
}

// What the driver throws for a transaction whose session was ended under it, never a commit of unknown outcome.
function endedSessionError(error: unknown): boolean {
  if (!(error instanceof MongoTransactionError || error instanceof MongoRuntimeError || error instanceof MongoExpiredSessionError)) return false
  return !(error as MongoError).hasErrorLabel?.('UnknownTransactionCommitResult')
}
