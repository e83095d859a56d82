/**
 * `@lifeguard/postgres`: PostgreSQL pools on Lifeguard's own pool engine over `pg.Client`: bounded and
 * abortable waits, live resizing, metrics, lifecycle events, leak detection and typed connection-loss
 * errors; several hosts with libpq's `target_session_attrs` and the maintenance controls for a failover
 * (`suspend`, `resume`, `softEvict`); a guard for PgBouncer's transaction pooling; `Pool`, a drop-in
 * replacement for `pg.Pool` with all of that; and a request-scoped handle (`context.postgres`) that gives
 * back what an operation took.
 *
 * @packageDocumentation
 */

export { PostgresPool, createPostgresPool } from './postgres-pool.js'
export type { PostgresPoolClient, ConnectCallback } from './postgres-pool.js'
export { Pool } from './pool.js'
export type { PoolConfig, PoolOptions, QueryCallback } from './pool.js'
export type { PostgresPoolOptions, PostgresDriverOptions, OwnedDriverOption, PostgresHost, TargetSessionAttrs, PoolerOption } from './options.js'
export { PostgresHandle, createPostgresHandle } from './postgres-handle.js'
export type { AnyPostgresPool } from './postgres-handle.js'
export { PostgresTransaction } from './postgres-transaction.js'
export type { TransactionOptions } from './postgres-transaction.js'
export { registerPostgres, DEFAULT_POSTGRES_SERVICE } from './register-postgres.js'
export type { RegisterPostgresOptions } from './register-postgres.js'
export { PostgresConnectError, PostgresQueryTimeoutError, PostgresReadOnlyError, PostgresRollbackError, SessionFeatureError } from './errors.js'
export type { RollbackReason, SessionFeature } from './errors.js'
export type { QueryText, QueryValues } from './query-types.js'
