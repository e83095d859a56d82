import { createPoolRegistry, createServiceContainer, runOperation, type PoolMetrics, type PoolRegistry, type ServiceContainer } from '@lifeguard/core'
import { createPostgresPool, registerPostgres, type PostgresHandle } from '@lifeguard/postgres'
import type { Config } from './config.js'
import { openDatabase, type Database } from './database.js'
import { createPrometheusMetrics, type PrometheusMetrics } from './metrics.js'
import { addMongoPool } from './mongodb.js'
import { OrdersRepository } from './orders-repository.js'

/** What request handlers resolve from their scope. */
export interface Services {
  postgres: PostgresHandle
  orders: OrdersRepository
}

/**
 * `GET /health`: `ok` when every pool is warm and reaches its database. It is served only while the service
 * listens, from the end of the warm-up until the shutdown begins (before and after, connections are refused);
 * `draining` reaches only a request on a connection kept alive from before the shutdown.
 */
export interface Health {
  status: 'ok' | 'unavailable' | 'draining'
  pools: Record<string, { kind: string; target: string; state: string; totalConnections: number; idleConnections: number; waitingRequests: number }>
}

/** Everything the HTTP layer (Express, Koa or Hono) needs; the framework only adds routes and a server. */
export interface OrdersService {
  readonly config: Config
  readonly registry: PoolRegistry
  readonly container: ServiceContainer<Services>
  readonly metrics: PrometheusMetrics
  readonly database: Database
  /** Pool readiness for `/health`. */
  health(): Health
  /** `getPoolMetrics()` of every pool, for `/metrics/pools`. */
  poolMetrics(): Record<string, PoolMetrics>
  /**
   * Marks the service as draining: `/health` answers 503. The drain stops listening at the same moment, so only
   * a client with a connection kept alive from before sees it; a load balancer's new checks are refused.
   */
  startDraining(): void
  /** Closes the pools (waiting for checked-out connections), metrics, the container, and the embedded database. */
  close(): Promise<void>
}

/** Writes one line to stdout, prefixed with the service name. */
export function log(line: string): void {
  process.stdout.write(`[orders-api] ${line}\n`)
}

// Set by a forced shutdown: the pool would report, line by line, the database it has just lost, and the
// graceful shutdown that goes on under it what it could not dispose of.
let serviceEventsMuted = false

/**
 * Stops logging the pools' errors and leaks and the container's dispose failures: after the line that says the
 * shutdown was forced, they are noise.
 */
export function muteServiceEvents(): void {
  serviceEventsMuted = true
}

/**
 * Lets the service run on, and shut down cleanly, once its output has nowhere to go: Ctrl-C on
 * `npm start | tee log` ends `tee` too, and a closed terminal fails every write. An unheard write error
 * (EPIPE, EIO) would crash the shutdown at its first log line, leaving the embedded database's folder behind.
 */
export function keepRunningWithoutOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
}

/**
 * Opens the database (embedded unless `DATABASE_URL`), builds the pool registry and the service
 * container, warms every pool up and creates the tables. Call `close()` when done, also on failure
 * paths after it resolved. `signal` (a shutdown that came during start-up) cancels the migration.
 *
 * @throws {AggregateError} of `PoolWarmupError` when a pool cannot open a connection (nothing is left open)
 */
export async function startOrdersService(config: Config, { signal }: { signal?: AbortSignal } = {}): Promise<OrdersService> {
  const database = await openDatabase(config.databaseUrl, log)
  try {
    return await startOn(database, config, signal)
  } catch (error) {
    // Whatever failed after the database opened (a pool option refused, the warm-up), the embedded one and its
    // data folder go: a failed start leaves nothing behind (`stop()` is idempotent: the close on a failed
    // warm-up has stopped it already).
    await database.stop().catch(() => undefined)
    throw error
  }
}

async function startOn(database: Database, config: Config, signal: AbortSignal | undefined): Promise<OrdersService> {
  // Whether the pool's last attempt to reach the database failed (set by a connection error, cleared by the
  // next connection that opens): a warmed-up pool with no connection left and the database gone is not ready.
  let connectFailing = false
  const registry = createPoolRegistry()
  const orders = registry.register(
    createPostgresPool({
      name: 'orders',
      connectionString: database.connectionString,
      applicationName: config.applicationName,
      minSize: 2,
      maxSize: 10,
      acquireTimeoutMillis: 5_000,
      maxWaitingRequests: 100,
      leakDetectionMillis: 30_000,
      events: {
        onConnect: () => void (connectFailing = false),
        onError: (event) => {
          if (event.source === 'connection') connectFailing = true
          if (!serviceEventsMuted) log(`pool '${event.pool}' ${event.source} error: ${event.error.message}`)
        },
        onLeak: (event) => {
          if (!serviceEventsMuted) log(`pool '${event.pool}' leak ${event.state} after ${Math.round(event.heldMillis)}ms: ${event.owner?.operation ?? 'outside an operation'}`)
        },
      },
    }),
  )
  const disposeFailed = (error: unknown): void => {
    if (!serviceEventsMuted) log(`dispose failed: ${String(error)}`)
  }
  const container = registerPostgres(createServiceContainer({ onError: disposeFailed }), orders)
    // One repository per request, on that request's handle.
    .scoped('orders', (r) => new OrdersRepository(r.resolve('postgres'), config.schema))
  const metrics = createPrometheusMetrics(registry, 'orders-api')
  let draining = false

  const close = async (): Promise<void> => {
    const failures: unknown[] = []
    for (const step of [() => registry.close({ timeoutMillis: config.shutdownTimeoutMillis }), () => metrics.close(), () => container.dispose(), () => database.stop()]) {
      try {
        await step()
      } catch (error) {
        failures.push(error)
      }
    }
    if (failures.length > 0) {
      // The log line is all an operator sees of it: each step's reason, not only their number.
      const reasons = failures.map((error) => (error instanceof Error ? error.message : String(error))).join('; ')
      throw new AggregateError(failures, `Could not close the service cleanly. ${failures.length} step(s) failed: ${reasons}`)
    }
  }

  try {
    if (config.mongodbUri !== undefined) await addMongoPool(registry, container, config.mongodbUri, config.applicationName, log)
    const warm = await registry.warmup()
    for (const report of warm.pools) log(`pool '${report.pool}' warm: ${report.opened} connection(s) in ${Math.round(report.durationMillis)}ms`)
    // Start-up work is an operation too: it gets a scope, and its connection is given back when it ends.
    // Under the caller's signal: a migration waiting on another instance's lock ends with a shutdown.
    await runOperation('orders-api', 'migrate', (context) => OrdersRepository.migrate(context.postgres, config.schema), { container, signal })
  } catch (error) {
    await close().catch(() => undefined)
    throw error
  }

  return {
    config,
    registry,
    container,
    metrics,
    database,
    health() {
      const pools: Health['pools'] = {}
      for (const pool of registry.pools()) {
        const m = pool.getPoolMetrics()
        pools[pool.name] = { kind: pool.kind, target: pool.target, state: pool.state, totalConnections: m.totalConnections, idleConnections: m.idleConnections, waitingRequests: m.waitingRequests }
      }
      const reachable = !connectFailing || orders.getPoolCounters().totalConnections > 0
      return { status: draining ? 'draining' : registry.isReady && reachable ? 'ok' : 'unavailable', pools }
    },
    poolMetrics: () => registry.getPoolMetrics(),
    startDraining() {
      draining = true
    },
    close,
  }
}
