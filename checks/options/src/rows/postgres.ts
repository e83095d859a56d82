import { Pool, createPostgresPool, type PoolConfig, type PostgresPoolOptions } from '@lifeguard/postgres'
import { TIMER_LIMIT, TOO_LONG, type OptionRow, type Tracker } from '../option-row.js'

const pkg = '@lifeguard/postgres'
// Nothing connects: pools are created and closed without a query.
const base = { name: 'orders', host: '127.0.0.1', port: 9, user: 'app' }
const create = (options: Record<string, unknown>) => () => createPostgresPool({ ...base, ...options } as PostgresPoolOptions)
const onPool = (tracker: Tracker) => tracker.track(createPostgresPool({ ...base, maxSize: 4 }))

const durations = ['acquireTimeoutMillis', 'connectTimeoutMillis', 'idleTimeoutMillis', 'maxLifetimeMillis', 'maxLifetimeJitterMillis', 'validateAfterIdleMillis'].map(
  (option): OptionRow => ({ package: pkg, entry: 'createPostgresPool', bad: `${option}: 2 ** 32`, option, message: TIMER_LIMIT, call: create({ [option]: TOO_LONG }) }),
)

/** `@lifeguard/postgres`: the factory and the pool's methods. */
export const postgresRows: OptionRow[] = [
  ...durations,
  // Refused by core's PoolMonitor, which every pool builds on.
  { package: pkg, entry: 'createPostgresPool', bad: 'leakDetectionMillis: 2 ** 32', option: 'leakDetectionMillis', message: TIMER_LIMIT, call: create({ leakDetectionMillis: TOO_LONG }) },
  // pg hands it to setTimeout, which fires after 1 ms: every query would time out.
  { package: pkg, entry: 'createPostgresPool', bad: 'pg: { query_timeout: 2 ** 32 }', option: 'pg.query_timeout', message: TIMER_LIMIT, call: create({ pg: { query_timeout: TOO_LONG } }) },
  { package: pkg, entry: 'createPostgresPool', bad: "pg: { query_timeout: '5s' }", option: 'pg.query_timeout', call: create({ pg: { query_timeout: '5s' } }) },
  { package: pkg, entry: 'createPostgresPool', bad: 'events: { onError: 5 }', option: 'events.onError', call: create({ events: { onError: 5 } }) },
  { package: pkg, entry: 'createPostgresPool', bad: 'events: { onErorr }', option: 'events.onErorr', call: create({ events: { onErorr: () => {} } }) },
  { package: pkg, entry: 'createPostgresPool', bad: "events: ['x']", option: 'events[0]', call: create({ events: ['x'] }) },
  { package: pkg, entry: 'pool.warmup', bad: 'connections: 0', option: 'connections', call: (t) => onPool(t).warmup({ connections: 0 }) },
  { package: pkg, entry: 'pool.warmup', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, call: (t) => onPool(t).warmup({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'pool.close', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, call: (t) => onPool(t).close({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'pool.resize', bad: 'resize(undefined)', option: 'size', call: (t) => onPool(t).resize(undefined as never) },
  { package: pkg, entry: 'pool.on', bad: "on('error', 5)", option: 'listener', call: (t) => onPool(t).on('error', 5 as never) },
  ...dropInRows(),
]

// The pg.Pool-compatible face: pg's option names, the same rules.
function dropInRows(): OptionRow[] {
  const dropIn = (config: Record<string, unknown>) => (tracker: Tracker) => tracker.track(new Pool({ host: '127.0.0.1', port: 9, ...config } as PoolConfig))
  return [
    // (max: 0 reads as unset, as in pg-pool.)
    { package: pkg, entry: 'new Pool', bad: 'max: -1', option: 'max', call: dropIn({ max: -1 }) },
    { package: pkg, entry: 'new Pool', bad: 'min above max', option: 'min', call: dropIn({ max: 2, min: 3 }) },
    { package: pkg, entry: 'new Pool', bad: 'connectionTimeoutMillis: 2 ** 32', option: 'connectionTimeoutMillis', message: TIMER_LIMIT, call: dropIn({ connectionTimeoutMillis: TOO_LONG }) },
    { package: pkg, entry: 'new Pool', bad: 'idleTimeoutMillis: 2 ** 32', option: 'idleTimeoutMillis', message: TIMER_LIMIT, call: dropIn({ idleTimeoutMillis: TOO_LONG }) },
    { package: pkg, entry: 'new Pool', bad: 'maxLifetimeSeconds: 2 ** 32', option: 'maxLifetimeSeconds', call: dropIn({ maxLifetimeSeconds: TOO_LONG }) },
    { package: pkg, entry: 'new Pool', bad: 'query_timeout: 2 ** 32', option: 'query_timeout', message: TIMER_LIMIT, call: dropIn({ query_timeout: TOO_LONG }) },
    { package: pkg, entry: 'new Pool', bad: 'maxUses: -1', option: 'maxUses', call: dropIn({ maxUses: -1 }) },
    { package: pkg, entry: 'new Pool', bad: 'events: { onErorr }', option: 'events.onErorr', call: dropIn({ events: { onErorr: () => {} } }) },
    { package: pkg, entry: 'new Pool', bad: 'leakDetectionMillis: 2 ** 32', option: 'leakDetectionMillis', message: TIMER_LIMIT, call: dropIn({ leakDetectionMillis: TOO_LONG }) },
  ]
}
