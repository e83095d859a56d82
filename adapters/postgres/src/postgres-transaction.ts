import { DisposedError } from '@lifeguard/core'
import { validateOptions, type PoolMonitor } from '@lifeguard/core/adapter'
import type pg from 'pg'
import type { QueryText, QueryValues } from './query-types.js'
import type { PooledClient } from './internal/pooled-client.js'
import { runStatement, statementError } from './internal/run-query.js'
import { finishTransaction } from './internal/symbols.js'

/** How `transaction()` begins: `BEGIN ISOLATION LEVEL ... READ ONLY`. */
export interface TransactionOptions {
  /** Default: the server's (`read committed` unless configured otherwise). */
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable' | undefined
  /** `true` begins `READ ONLY`, `false` `READ WRITE`. Default: the server's. */
  readOnly?: boolean | undefined
}

/**
 * The one connection of a `transaction()`, for the callback's queries. It stops working when the
 * transaction ends (commit, rollback, or the operation being disposed), so a late query can never run
 * on a connection that went back to the pool.
 */
export class PostgresTransaction {
  readonly #client: PooledClient
  readonly #pool: string
  readonly #redact: (error: unknown) => Error
  readonly #monitor: PoolMonitor
  #finished = false

  /** @internal created by `PostgresHandle#transaction()` */
  constructor(client: PooledClient, pool: string, redact: (error: unknown) => Error, monitor: PoolMonitor) {
    this.#client = client
    this.#pool = pool
    this.#redact = redact
    this.#monitor = monitor
  }

  /** True once committed, rolled back or disposed. */
  get finished(): boolean {
    return this.#finished
  }

  /**
   * Runs a query inside the transaction.
   *
   * @throws {DisposedError} once the transaction has finished
   * @throws {ConnectionLostError} when the connection failed (the server rolls the transaction back)
   * @example
   * await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [amount, from])
   */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>> {
    if (this.#finished) return Promise.reject(new DisposedError('Could not run a query in the transaction. The transaction has already finished.'))
    return runStatement<R>(this.#monitor, this.#client, text, values, (error) => statementError(this.#pool, this.#client, error, 'run a query in the transaction', false, this.#redact))
  }

  /** @internal */
  [finishTransaction](): void {
    this.#finished = true
  }
}

const levels = ['read committed', 'repeatable read', 'serializable'] as const

/**
 * The `BEGIN` statement for these options.
 *
 * @throws {InvalidOptionError}
 */
export function beginStatement(options: TransactionOptions | undefined): string {
  if (options === undefined) return 'BEGIN'
  validateOptions('transaction', options, {
    isolationLevel: { type: 'oneOf', values: levels, optional: true },
    readOnly: { type: 'boolean', optional: true },
  })
  let statement = 'BEGIN'
  if (options.isolationLevel !== undefined) statement += ` ISOLATION LEVEL ${options.isolationLevel.toUpperCase()}`
  if (options.readOnly !== undefined) statement += options.readOnly ? ' READ ONLY' : ' READ WRITE'
  return statement
}
