import type { PoolEventsOption } from '@lifeguard/core'
import type { Clock } from '@lifeguard/core/adapter'
import type * as pg from 'pg'

/** Pool settings Lifeguard owns; set them through the Lifeguard option named in the comment instead. */
export type OwnedDriverOption =
  | 'max' // maxSize
  | 'min' // minSize
  | 'idleTimeoutMillis' // idleTimeoutMillis
  | 'connectionTimeoutMillis' // connectTimeoutMillis
  | 'maxLifetimeSeconds' // maxLifetimeMillis
  | 'application_name' // applicationName
  | 'connectionString'
  | 'host'
  | 'port'
  | 'user'
  | 'password'
  | 'database'
  | 'ssl'
  | 'poolSize' // maxSize (pg's old name for max)
  | 'log' // events
  | 'Promise' // none: the pool's promises are native ones

/**
 * Any other `pg.Pool` / `pg.Client` setting: client settings (`statement_timeout`, `query_timeout`,
 * `keepAlive`, `types`, `options`, ...) go to every client; `Client` (a pg.Client class), `onConnect`,
 * `verify`, `maxUses` and `allowExitOnIdle` mean what they mean for `pg.Pool`.
 */
export type PostgresDriverOptions = Omit<pg.PoolConfig, OwnedDriverOption>

/** One server of a pool given several (`hosts`), e.g. a primary and its standby. */
export interface PostgresHost {
  /** The server's host name or address. */
  host: string
  /** Default: `PGPORT`, then 5432. */
  port?: number | undefined
}

/**
 * Which server a new connection must reach, as libpq's `target_session_attrs`: `any` (the first that
 * answers), `read-write` (accepts writes: not a standby, `default_transaction_read_only` off), `read-only`
 * (the opposite), `primary` (not in recovery), `standby` (in recovery), `prefer-standby` (a standby if any
 * answers, else any server).
 */
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby'

/**
 * The pool sits behind PgBouncer in transaction mode: statements that need a session of their own
 * (session `SET`, `LISTEN`, session advisory locks, SQL `PREPARE`, named prepared statements, `WITH HOLD`
 * cursors, temporary tables that outlive a transaction) are refused with `SessionFeatureError`, and
 * startup parameters PgBouncer rejects are refused at construction. `namedPreparedStatements: true`
 * allows `query({ name, text })`: set it only for PgBouncer 1.21 or later with `max_prepared_statements` > 0.
 */
export type PoolerOption = 'pgbouncer-transaction' | { type: 'pgbouncer-transaction'; namedPreparedStatements?: boolean | undefined }

/** Options of `createPostgresPool()`. Durations are in milliseconds. */
export interface PostgresPoolOptions extends PoolEventsOption {
  /** Unique in its registry, e.g. `'orders'`. Shown in errors, events and metrics. */
  name: string
  /**
   * `postgres://user:password@host:port/database?sslmode=...` (or `postgresql://`, `socket:/folder?db=name`, or
   * `/socket/folder database`). Its fields win over the fields below, as in `pg`. Any other string (libpq's
   * `host=… dbname=…`, which pg does not read), or one that does not parse, is refused when the pool is made.
   */
  connectionString?: string | undefined
  /** Default: `PGHOST`, then `localhost`. libpq's list `'db1,db2'` means the same as `hosts`. */
  host?: string | undefined
  /** Default: `PGPORT`, then 5432. */
  port?: number | undefined
  /** Default: `PGUSER`, then the OS user. */
  user?: string | undefined
  /** A string, or a function returning one (rotating credentials). Never shown in errors, events or metrics. */
  password?: string | (() => string | Promise<string>) | undefined
  /** Default: `PGDATABASE`, then the user name. */
  database?: string | undefined
  /**
   * Several servers, tried in order (a server that failed or did not match within the last 10 s is
   * tried last), each new connection checked against `targetSessionAttrs`. Not with `host`, `port` or
   * `connectionString`.
   */
  hosts?: readonly PostgresHost[] | undefined
  /** Which server new connections must reach (see `TargetSessionAttrs`). Default `'any'`. */
  targetSessionAttrs?: TargetSessionAttrs | undefined
  /** Set when the pool connects through PgBouncer in transaction mode (see `PoolerOption`). */
  pooler?: PoolerOption | undefined
  /** `true`, or Node's TLS options. */
  ssl?: pg.PoolConfig['ssl'] | undefined
  /** Sent as `application_name`: how the server (`pg_stat_activity`) and PgBouncer see this service. */
  applicationName?: string | undefined
  /** Connections kept open when idle, and opened by `warmup()`. Default 0. */
  minSize?: number | undefined
  /** Most connections open at once. Default 10. */
  maxSize?: number | undefined
  /** Longest wait for a connection (queue plus connect) before `PoolTimeoutError`. Default 10000. */
  acquireTimeoutMillis?: number | undefined
  /** Longest time one connection attempt may take. Default: `acquireTimeoutMillis`. */
  connectTimeoutMillis?: number | undefined
  /** Waiters beyond this get `PoolExhaustedError` at once; 0 means never wait. Default: unbounded. */
  maxWaitingRequests?: number | undefined
  /** An idle connection above `minSize` closes after this long; 0 keeps it. Default 10000. */
  idleTimeoutMillis?: number | undefined
  /** A connection closes after this long (when idle, or when released); 0 means no limit. Default 0. */
  maxLifetimeMillis?: number | undefined
  /** Each connection's lifetime is shortened by a random amount up to this. Default: 10% of `maxLifetimeMillis`. */
  maxLifetimeJitterMillis?: number | undefined
  /** A checkout held longer than this fires a `leak` event; 0 turns detection off. Default 0. */
  leakDetectionMillis?: number | undefined
  /** A connection idle at least this long is checked with `SELECT 1` before it is handed out (0: always). Default 30000. */
  validateAfterIdleMillis?: number | undefined
  /** Where time is read and timers are set; tests pass a manual clock. Default: the system clock. */
  clock?: Clock | undefined
  /** Other `pg` settings, passed through. */
  pg?: PostgresDriverOptions | undefined
}
