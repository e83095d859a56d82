import { createPostgresPool, type PostgresPoolOptions } from '@lifeguard/postgres'
import { TIMER_LIMIT, TOO_LONG, type OptionRow, type Tracker } from '../option-row.js'

const pkg = '@lifeguard/postgres'
// Nothing connects: pools are created and closed without a query.
const base = { name: 'orders', host: '127.0.0.1', port: 9, user: 'app' }
const create = (options: Record<string, unknown>) => () => createPostgresPool({ ...base, ...options } as PostgresPoolOptions)
const onPool = (tracker: Tracker) => tracker.track(createPostgresPool({ ...base, maxSize: 4 }))
const durationGap = 'postgres durations are not capped at the timer limit yet'
const listenerGap = 'postgres listener maps are not checked entry by entry yet'

const durations = ['acquireTimeoutMillis', 'connectTimeoutMillis', 'idleTimeoutMillis', 'maxLifetimeMillis', 'maxLifetimeJitterMillis'].map(
  (option): OptionRow => ({ package: pkg, entry: 'createPostgresPool', bad: `${option}: 2 ** 32`, option, message: TIMER_LIMIT, pending: durationGap, call: create({ [option]: TOO_LONG }) }),
)

/** `@lifeguard/postgres`: the factory and the pool's methods. */
export const postgresRows: OptionRow[] = [
  ...durations,
  // Refused by core's PoolMonitor, which every pool builds on.
  { package: pkg, entry: 'createPostgresPool', bad: 'leakDetectionMillis: 2 ** 32', option: 'leakDetectionMillis', message: TIMER_LIMIT, call: create({ leakDetectionMillis: TOO_LONG }) },
  { package: pkg, entry: 'createPostgresPool', bad: 'events: { onError: 5 }', option: 'events.onError', call: create({ events: { onError: 5 } }) },
  { package: pkg, entry: 'createPostgresPool', bad: 'events: { onErorr }', option: 'events.onErorr', call: create({ events: { onErorr: () => {} } }) },
  { package: pkg, entry: 'createPostgresPool', bad: "events: ['x']", option: 'events[0]', pending: listenerGap, call: create({ events: ['x'] }) },
  { package: pkg, entry: 'pool.warmup', bad: 'connections: 0', option: 'connections', call: (t) => onPool(t).warmup({ connections: 0 }) },
  { package: pkg, entry: 'pool.warmup', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, pending: durationGap, call: (t) => onPool(t).warmup({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'pool.close', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, pending: durationGap, call: (t) => onPool(t).close({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'pool.resize', bad: 'resize(undefined)', option: 'size', pending: 'postgres resize(undefined) is a TypeError yet', call: (t) => onPool(t).resize(undefined as never) },
  { package: pkg, entry: 'pool.on', bad: "on('error', 5)", option: 'listener', call: (t) => onPool(t).on('error', 5 as never) },
]
