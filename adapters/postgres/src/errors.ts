import { LifeguardError } from '@lifeguard/core'
import { sqlStateOf } from './internal/sql-state.js'

/**
 * The server refused a new connection for a reason waiting will not fix (authentication failed, the
 * database does not exist, ...), or the driver could not set it up (no password for a server that asks for
 * one), so the checkout fails at once instead of retrying until
 * `acquireTimeoutMillis`. The cause is the driver's error, redacted.
 */
export class PostgresConnectError extends LifeguardError {
  /** Always `'PostgresConnectError'`. */
  override readonly name = 'PostgresConnectError'
  /** Always `'ERR_POSTGRES_CONNECT'`. */
  declare readonly code: 'ERR_POSTGRES_CONNECT'
  /** The pool's name. */
  readonly pool: string
  /** The server's SQLSTATE, e.g. `'28P01'` (invalid password) or `'3D000'` (no such database). */
  readonly sqlState: string | undefined

  constructor(pool: string, target: string, cause: Error) {
    // Without a SQLSTATE the server did not answer with a refusal: pg gave up on its side (no password for a
    // server that asks for one, an unsupported authentication method), or TLS did (Node's codes, such as
    // `DEPTH_ZERO_SELF_SIGNED_CERT`, are no SQLSTATE).
    const sqlState = sqlStateOf(cause)
    const why = sqlState !== undefined ? 'The server refused' : 'The connection could not be set up'
    super('ERR_POSTGRES_CONNECT', `Could not connect pool '${pool}' to ${target}. ${why}: ${cause.message}.`, { cause })
    this.pool = pool
    this.sqlState = sqlState
  }
}

/**
 * A statement reached a server that no longer accepts writes (SQLSTATE `25006`) in a pool that wants a
 * writable one (`targetSessionAttrs: 'read-write'`): the server was demoted, or made read-only for a
 * switchover. The statement did not take effect and is not retried elsewhere; the connection, and the
 * pool's other connections to that server, are closed (idle ones at once, busy ones when released), so a
 * retry reaches the writable server. The cause is the server's error.
 */
export class PostgresReadOnlyError extends LifeguardError {
  /** Always `'PostgresReadOnlyError'`. */
  override readonly name = 'PostgresReadOnlyError'
  /** Always `'ERR_POSTGRES_READ_ONLY'`. */
  declare readonly code: 'ERR_POSTGRES_READ_ONLY'
  /** The pool's name. */
  readonly pool: string
  /** The server that refused, `host:port`. */
  readonly server: string
  /** Always `'25006'` (`read_only_sql_transaction`). */
  readonly sqlState = '25006'
  /** Always false: a refused write did not take effect (in a transaction, the server rolls it back). */
  readonly mayHaveCommitted = false

  constructor(pool: string, action: string, server: string, cause: Error) {
    super(
      'ERR_POSTGRES_READ_ONLY',
      `Could not ${action} on pool '${pool}'. The server ${server} is read-only (25006): it is no longer the primary, or it was made read-only for a switchover. Its connections are being closed; a retry connects to a writable server.`,
      { cause },
    )
    this.pool = pool
    this.server = server
  }
}

/** What rolled a transaction back: see `PostgresRollbackError.reason`. */
export type RollbackReason = 'statement-failed' | 'query-timeout' | 'rolled-back-in-fn' | 'ran-after-rollback' | 'maybe-prepared' | 'failed-after-commit' | 'left-open'

// Reasons that always mean something may have taken effect.
const tookEffect: ReadonlySet<RollbackReason> = new Set(['ran-after-rollback', 'maybe-prepared', 'failed-after-commit'])

// What a rollback did not undo: a `COMMIT` of `fn` that did not end it (one that began the next transaction, or one
// before the `ROLLBACK` that did).
const earlierCommit = 'what came before an earlier `COMMIT` or `PREPARE TRANSACTION` of `fn` (`COMMIT AND CHAIN`, `COMMIT; BEGIN`, `COMMIT; ROLLBACK`) was committed or prepared by it, and may have taken effect'

// Per reason: what could not be done, why, what may have taken effect anyway (when `mayHaveCommitted`), and advice.
const rollbackReasons: Record<RollbackReason, readonly [action: string, why: string, ranOutside?: string, advice?: string]> = {
  'statement-failed': ['commit the transaction', 'The server rolled it back: a statement in it had failed (and the error was caught inside the transaction)', earlierCommit],
  'query-timeout': ['commit the transaction', 'It was rolled back: a statement in it ran past `query_timeout` (and the error was caught inside the transaction)', earlierCommit],
  'rolled-back-in-fn': ['commit the transaction', 'It was rolled back by a statement of its own (a `ROLLBACK` in `fn`, `ROLLBACK AND CHAIN` too, or a statement sent after it)', earlierCommit],
  'ran-after-rollback': [
    'commit the transaction',
    'It was rolled back by a `ROLLBACK` in `fn`',
    'the statements after that `ROLLBACK` in the same query text ran outside it, each committed on its own, and may have taken effect',
  ],
  'maybe-prepared': [
    'commit the transaction',
    'It ended in a `ROLLBACK` in `fn` followed by a `PREPARE` in the same query text, and the server tags `ROLLBACK TO SAVEPOINT` as it tags `ROLLBACK`',
    'it may have been prepared by a `PREPARE TRANSACTION` rather than rolled back (see `pg_prepared_xacts`: `COMMIT PREPARED` or `ROLLBACK PREPARED` is yours to send), or the statements after that `ROLLBACK` ran outside it and may have taken effect',
  ],
  'failed-after-commit': [
    'complete the transaction',
    'A statement of `fn` failed (and the error was caught inside the transaction) after a `COMMIT` or `PREPARE` earlier in the same query text',
    'the transaction may have taken effect: committed by that `COMMIT`, or prepared by a `PREPARE TRANSACTION` (see `pg_prepared_xacts`)',
  ],
  'left-open': [
    'run a query',
    'It left a transaction open (a `BEGIN` without `COMMIT`), so that transaction was rolled back and the connection closed',
    'its text also had a `COMMIT` (before that `BEGIN`, or a `COMMIT AND CHAIN`, which began it) or a `PREPARE` (maybe `PREPARE TRANSACTION`), so statements before that may have taken effect',
    'Use transaction() for multi-statement work',
  ],
}

/**
 * A transaction did not end as its caller expected: it was rolled back where it was to commit (and did not take
 * effect), or `fn`'s own statements ended it in a way that may have taken effect (`mayHaveCommitted`).
 * `transaction()`: the server answered `COMMIT` with `ROLLBACK` (a statement failed and `fn` went on, having
 * caught that error; pg reports this `COMMIT` as a success, `transaction()` does not), a statement ran past
 * `query_timeout`, `fn` sent `ROLLBACK` (or `ROLLBACK AND CHAIN`) itself, or a text of `fn` failed after its own
 * `COMMIT`. A single `query()`: its text left a transaction open (`BEGIN; INSERT ...`), so its connection was
 * closed and the server rolled it back.
 */
export class PostgresRollbackError extends LifeguardError {
  /** Always `'PostgresRollbackError'`. */
  override readonly name = 'PostgresRollbackError'
  /** Always `'ERR_POSTGRES_ROLLED_BACK'`. */
  declare readonly code: 'ERR_POSTGRES_ROLLED_BACK'
  /** The pool's name. */
  readonly pool: string
  /**
   * False when nothing took effect: the server rolled the whole of it back. True when something may have: statements
   * after `fn`'s `ROLLBACK` in the same text ran outside the transaction (`'ran-after-rollback'`), a `PREPARE
   * TRANSACTION` after that `ROLLBACK` may have prepared it (`'maybe-prepared'`), a `COMMIT` or `PREPARE TRANSACTION`
   * in a text of `fn` ended it before a statement of that text failed (`'failed-after-commit'`), an earlier `COMMIT`
   * of `fn` that did not end it committed what came before it (`COMMIT AND CHAIN`, `COMMIT; BEGIN`, `COMMIT;
   * ROLLBACK`: any other reason), or a single query left a transaction open after a `COMMIT` or `PREPARE` in its
   * text (`'left-open'`, also for `COMMIT AND CHAIN`).
   */
  readonly mayHaveCommitted: boolean
  /**
   * What rolled it back: a statement that failed (its error is the `cause`: a retry loop reads
   * `error.cause instanceof pg.DatabaseError && error.cause.code === '40001'`), one past `query_timeout`,
   * `fn`'s own `ROLLBACK` or `ROLLBACK AND CHAIN` (`'ran-after-rollback'` when statements after a `ROLLBACK` in the
   * same text ran outside the transaction, `'maybe-prepared'` when a `PREPARE TRANSACTION` did), or a single query
   * that left a transaction open (`'left-open'`). `'failed-after-commit'`: nothing rolled it back; a `COMMIT` (or
   * `PREPARE TRANSACTION`) of `fn` ended it, then a statement after it in the same text failed (its error is the
   * `cause`).
   */
  readonly reason: RollbackReason

  /**
   * @param why - what rolled it back (default: a statement that failed)
   * @param cause - the error of the statement that failed, when one did
   * @param mayHaveCommitted - whether something may have taken effect (default: true for `'ran-after-rollback'`,
   *   `'maybe-prepared'` and `'failed-after-commit'`; for another reason, true says an earlier `COMMIT` of `fn` did)
   */
  constructor(pool: string, why: RollbackReason = 'statement-failed', cause?: unknown, mayHaveCommitted = tookEffect.has(why)) {
    const [action, reason, ranOutside, advice] = rollbackReasons[why]
    const outcome = mayHaveCommitted ? `; ${ranOutside ?? 'statements outside it may have taken effect'}` : ', so none of it took effect'
    super('ERR_POSTGRES_ROLLED_BACK', `Could not ${action} on pool '${pool}'. ${reason}${outcome}.${advice === undefined ? '' : ` ${advice}.`}`, cause === undefined ? undefined : { cause })
    this.pool = pool
    this.reason = why
    this.mayHaveCommitted = mayHaveCommitted
  }
}

/**
 * A statement ran past pg's client-side `query_timeout` (the pool's `pg: { query_timeout }`, or the query
 * config's own). pg only stops waiting; the server would run the statement to its end, holding its
 * session and locks. So a cancel request is sent for it, and its connection is closed, never reused (a
 * cancel request still on its way must not reach another caller's statement). The message keeps pg's
 * words (`Query read timeout`); the cause is pg's error.
 */
export class PostgresQueryTimeoutError extends LifeguardError {
  /** Always `'PostgresQueryTimeoutError'`. */
  override readonly name = 'PostgresQueryTimeoutError'
  /** Always `'ERR_POSTGRES_QUERY_TIMEOUT'`. */
  declare readonly code: 'ERR_POSTGRES_QUERY_TIMEOUT'
  /** The pool's name. */
  readonly pool: string
  /** The `query_timeout` that passed (ms); undefined when pg's setting could not be read. */
  readonly timeoutMillis: number | undefined
  /**
   * False inside a transaction (it rolls back), but for a `COMMIT`: `transaction()`'s own, or one of its callback
   * (`COMMIT`, `END`, `PREPARE TRANSACTION`, or any statement after a `COMMIT AND CHAIN` of it). True for those and
   * for a query on its own: it may have finished on the server before the cancel request reached it; retry only
   * what is idempotent.
   */
  readonly mayHaveCommitted: boolean

  constructor(pool: string, action: string, timeoutMillis: number | undefined, mayHaveCommitted: boolean, cause: Error) {
    const limit = timeoutMillis === undefined ? 'query_timeout' : `query_timeout (${timeoutMillis} ms)`
    super(
      'ERR_POSTGRES_QUERY_TIMEOUT',
      `Could not ${action} on pool '${pool}'. Query read timeout: no answer within ${limit}; the statement is cancelled on the server and its connection closed.`,
      { cause },
    )
    this.pool = pool
    this.timeoutMillis = timeoutMillis
    this.mayHaveCommitted = mayHaveCommitted
  }
}

/** A feature that needs a server session of its own, which PgBouncer in transaction mode does not give. */
export type SessionFeature = 'session-set' | 'listen' | 'advisory-lock' | 'sql-prepare' | 'named-statement' | 'hold-cursor' | 'temp-table'

const sessionAdvice: Record<SessionFeature, readonly [what: string, instead: string]> = {
  'session-set': ['A session `SET`, `RESET` or `set_config()` (its `is_local` not written as `true`)', 'use `SET LOCAL` inside transaction(), or set it on the role or database (`ALTER ROLE ... SET ...`)'],
  listen: ['`LISTEN` / `UNLISTEN`', 'listen on a client connected to the server directly, not through PgBouncer'],
  'advisory-lock': ['A session advisory lock (`pg_advisory_lock`, `pg_try_advisory_lock`, `pg_advisory_unlock`)', 'use `pg_advisory_xact_lock` or `pg_try_advisory_xact_lock` inside transaction()'],
  'sql-prepare': ['SQL `PREPARE` / `EXECUTE` / `DEALLOCATE`', 'use parameterized queries (`query(text, values)`)'],
  'named-statement': [
    'A named prepared statement (`query({ name, text })`)',
    "leave out `name` (unnamed parameterized queries are fine), or run PgBouncer 1.21+ with `max_prepared_statements` and set `pooler: { type: 'pgbouncer-transaction', namedPreparedStatements: true }`",
  ],
  'hold-cursor': ['A `WITH HOLD` cursor', 'use a cursor without `WITH HOLD` inside transaction()'],
  'temp-table': ['A temporary table that outlives its transaction', 'create it with `ON COMMIT DROP` inside transaction()'],
}

/**
 * A statement asked for a feature that keeps state in the server session, in a pool created with
 * `pooler: 'pgbouncer-transaction'`: PgBouncer hands that session to other clients after each
 * transaction, so the state would leak to them or be lost. Nothing was sent to the server. The message
 * names the feature and what to use instead; `feature` is stable.
 */
export class SessionFeatureError extends LifeguardError {
  /** Always `'SessionFeatureError'`. */
  override readonly name = 'SessionFeatureError'
  /** Always `'ERR_POSTGRES_SESSION_FEATURE'`. */
  declare readonly code: 'ERR_POSTGRES_SESSION_FEATURE'
  /** The pool's name. */
  readonly pool: string
  /** The session feature the statement asked for. */
  readonly feature: SessionFeature

  constructor(pool: string, feature: SessionFeature) {
    const [what, instead] = sessionAdvice[feature]
    super(
      'ERR_POSTGRES_SESSION_FEATURE',
      `Could not run the statement on pool '${pool}'. ${what} keeps state in the server session, which PgBouncer in transaction mode shares between clients (pooler: 'pgbouncer-transaction'): ${instead}.`,
    )
    this.pool = pool
    this.feature = feature
  }
}
