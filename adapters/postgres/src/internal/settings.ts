import type { PoolEventListeners } from '@lifeguard/core'
import type { Clock } from '@lifeguard/core/adapter'
import type * as pg from 'pg'
import type { PostgresHost, TargetSessionAttrs } from '../options.js'

/** A `pg.Client` class (pg's own, or the application's subclass). */
export type ClientClass = new (config: pg.ClientConfig) => pg.Client

/** What `pooler: 'pgbouncer-transaction'` resolves to. */
export interface PoolerSettings {
  /** PgBouncer 1.21+ with `max_prepared_statements` tracks protocol-level named statements. */
  readonly namedPreparedStatements: boolean
}

/**
 * Everything a PostgreSQL pool runs on, whichever face created it (`createPostgresPool`'s options or a
 * `pg.Pool` config), validated and with every default filled in. Durations are in milliseconds.
 */
export interface PgPoolSettings {
  readonly name: string
  readonly Client: ClientClass
  /** What every new client is constructed with (connection fields, `application_name`, pg client settings). */
  readonly clientConfig: pg.ClientConfig
  /** Several servers to choose from (then `clientConfig` has no host or port); undefined: the one in `clientConfig`. */
  readonly hosts: readonly PostgresHost[] | undefined
  readonly targetSessionAttrs: TargetSessionAttrs
  /** Set when the pool connects through PgBouncer in transaction mode. */
  readonly pooler: PoolerSettings | undefined
  readonly minSize: number
  readonly maxSize: number
  /** 0: wait without limit. */
  readonly acquireTimeoutMillis: number
  /** 0: pg's own limit (none). */
  readonly connectTimeoutMillis: number
  readonly maxWaitingRequests: number | undefined
  /** 0: idle connections stay. */
  readonly idleTimeoutMillis: number
  /** 0: no limit. */
  readonly maxLifetimeMillis: number
  readonly maxLifetimeJitterMillis: number
  readonly validateAfterIdleMillis: number
  readonly maxUses: number
  readonly leakDetectionMillis: number
  /** Retry failed connection attempts while callers wait (Lifeguard), or fail a caller per failed attempt (pg.Pool). */
  readonly retryCreate: boolean
  readonly allowExitOnIdle: boolean
  readonly onConnect: ((client: pg.PoolClient) => unknown) | undefined
  readonly verify: ((client: pg.PoolClient, done: (error?: Error) => void) => void) | undefined
  readonly events: PoolEventListeners | readonly PoolEventListeners[] | undefined
  readonly clock: Clock | undefined
}
