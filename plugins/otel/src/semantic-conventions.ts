/**
 * Names of every instrument and attribute this plugin emits. The `db.*` names follow the OpenTelemetry
 * semantic conventions for database client metrics (connection pool metrics are experimental there,
 * `db.client.operation.duration` is stable); Lifeguard's own additions live under `lifeguard.`.
 *
 * @example
 * const view = { instrumentName: metricNames.waitTime, aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [0.01, 0.1, 1] } } }
 */
export const metricNames = {
  /** Observable UpDownCounter, `{connection}`, one point per `db.client.connection.state` (`idle`, `used`). */
  connectionCount: 'db.client.connection.count',
  /** Observable UpDownCounter, `{connection}`: idle connections the pool may keep (its `maxSize`). */
  idleMax: 'db.client.connection.idle.max',
  /** Observable UpDownCounter, `{connection}`: idle connections the pool keeps at least (its `minSize`). */
  idleMin: 'db.client.connection.idle.min',
  /** Observable UpDownCounter, `{connection}`: open connections allowed (its `maxSize`, following `resize`). Earlier versions of the conventions named it `db.client.connection.max`. */
  limit: 'db.client.connection.limit',
  /** Observable UpDownCounter, `{request}`: requests waiting for a connection. */
  pendingRequests: 'db.client.connection.pending_requests',
  /** Counter, `{timeout}`: waits for a connection that timed out. */
  timeouts: 'db.client.connection.timeouts',
  /** Histogram, `s`: time to open a connection (validation not included). */
  createTime: 'db.client.connection.create_time',
  /** Histogram, `s`: time from asking for a connection to getting it. */
  waitTime: 'db.client.connection.wait_time',
  /** Histogram, `s`: time from getting a connection to giving it back (how long a checkout held it). */
  useTime: 'db.client.connection.use_time',
  /** Histogram, `s`: one sample per statement or command, from sending it to its answer. */
  operationDuration: 'db.client.operation.duration',
  /** Counter, `{error}`: pool and connection errors, by `lifeguard.error.source`. */
  errors: 'lifeguard.pool.errors',
  /** Counter, `{leak}`: checkouts held longer than `leakDetectionMillis`. */
  leaks: 'lifeguard.pool.leaks',
  /** Counter, `{resize}`: size changes, by `lifeguard.resize.direction`. */
  resizes: 'lifeguard.pool.resizes',
  /**
   * Observable UpDownCounter, `{connection}`: connections outside `db.client.connection.count` that still hold
   * a server connection, by `lifeguard.connection.state` (`parked`, `closing`). Added to that count, it gives
   * the pool's server connections. Only pools that can tell report it.
   */
  outsideConnections: 'lifeguard.pool.connections',
  /**
   * Observable Counter, `{request}`: requests for a connection the pool did not serve, apart from timeouts, by
   * `lifeguard.rejection.reason`: `exhausted` (refused at once, `maxWaitingRequests` were waiting) or `aborted`
   * (their operation ended the wait: a deadline, a client gone). Only pools that count them report it.
   */
  rejections: 'lifeguard.pool.rejections',
} as const

/**
 * Attribute keys. Values are always low-cardinality names chosen by the application, never connection details.
 *
 * @example
 * const usedByPool = point.attributes[attributeNames.poolName]
 */
export const attributeNames = {
  /** The pool's registry name (after `instrumentPools()`'s `poolNamePrefix`, if given), on every instrument. */
  poolName: 'db.client.connection.pool.name',
  /** `idle` or `used`, on `db.client.connection.count`. */
  connectionState: 'db.client.connection.state',
  /** `postgresql`, `mongodb`, ... (from the pool's `kind`), on `db.client.operation.duration`. */
  systemName: 'db.system.name',
  /**
   * The statement's kind, on `db.client.operation.duration` when the adapter knows it: the SQL keyword that
   * names the operation, upper-case (`SELECT`, `INSERT`, `BEGIN`, ...; a WITH query's main statement; none for
   * a text of several operations or an EXPLAIN), or the MongoDB command name (`find`, `insert`, ...).
   */
  dbOperationName: 'db.operation.name',
  /**
   * Why a statement failed, on `db.client.operation.duration`: the error's `code` (a PostgreSQL SQLSTATE such as
   * `23505`, a MongoDB server code such as `11000`, Lifeguard's `ERR_CONNECTION_LOST`), else its class name.
   */
  errorType: 'error.type',
  /**
   * The server's status code of a failed statement, on `db.client.operation.duration`: a PostgreSQL SQLSTATE
   * (`23505`) or a MongoDB server error code (`11000`). Absent when the failure was not the server's answer.
   */
  responseStatusCode: 'db.response.status_code',
  /** The database the statement ran in, on `db.client.operation.duration` when the adapter knows it. */
  namespace: 'db.namespace',
  /** The `OperationContext` handler (service or router name), on `db.client.operation.duration` with `routeAttributes`. */
  operationHandler: 'lifeguard.operation.handler',
  /** The `OperationContext` operation (route pattern or job name), on `db.client.operation.duration` with `routeAttributes`. */
  operationName: 'lifeguard.operation.name',
  /** `connection`, `idle-connection`, `pool` or `listener`, on `lifeguard.pool.errors`. */
  errorSource: 'lifeguard.error.source',
  /** `grow`, `shrink` or `same` (the `maxSize` change), on `lifeguard.pool.resizes`. */
  resizeDirection: 'lifeguard.resize.direction',
  /**
   * On `lifeguard.pool.connections`: `parked` (kept open after a shrink for a grow to reuse) or `closing`
   * (out of the pool, the driver still closing them).
   */
  outsideConnectionState: 'lifeguard.connection.state',
  /** `exhausted` or `aborted`, on `lifeguard.pool.rejections`. */
  rejectionReason: 'lifeguard.rejection.reason',
} as const

/** Bucket boundaries (seconds) advised for `db.client.operation.duration`, as the conventions give them: `0.001` to `10`. */
export const operationDurationBuckets: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10])

/**
 * Bucket boundaries (seconds) advised for the pool's create, wait and use times. The conventions give
 * none; the SDK's default boundaries are made for milliseconds and would put every sample in one bucket.
 */
export const poolTimeBuckets: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
