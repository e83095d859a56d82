import { createMongoPool, type MongoPoolOptions } from '@lifeguard/mongodb'
import { TIMER_LIMIT, TOO_LONG, type OptionRow, type Tracker } from '../option-row.js'

const pkg = '@lifeguard/mongodb'
// Nothing connects: every row fails (or is accepted) before the first operation.
const uri = 'mongodb://127.0.0.1:9/?directConnection=true'
const create = (options: Record<string, unknown>) => () => createMongoPool({ name: 'orders', uri, ...options } as MongoPoolOptions)
const onPool = (tracker: Tracker) => tracker.track(createMongoPool({ name: 'orders', uri, maxSize: 4 }))

const durations = ['acquireTimeoutMillis', 'maxIdleTimeMillis', 'leakDetectionMillis'].map(
  (option): OptionRow => ({ package: pkg, entry: 'createMongoPool', bad: `${option}: 2 ** 32`, option, message: TIMER_LIMIT, call: create({ [option]: TOO_LONG }) }),
)

/** `@lifeguard/mongodb`: the factory and the pool's methods. */
export const mongodbRows: OptionRow[] = [
  ...durations,
  { package: pkg, entry: 'createMongoPool', bad: 'clientOptions: { serverSelectionTimeoutMS: 2 ** 32 }', option: 'clientOptions.serverSelectionTimeoutMS', message: TIMER_LIMIT, call: create({ clientOptions: { serverSelectionTimeoutMS: TOO_LONG } }) },
  { package: pkg, entry: 'createMongoPool', bad: 'events: { onError: 5 }', option: 'events.onError', call: create({ events: { onError: 5 } }) },
  { package: pkg, entry: 'createMongoPool', bad: 'events: { onErorr }', option: 'events.onErorr', call: create({ events: { onErorr: () => {} } }) },
  { package: pkg, entry: 'createMongoPool', bad: "events: ['x']", option: 'events[0]', call: create({ events: ['x'] }) },
  { package: pkg, entry: 'pool.warmup', bad: 'connections: 0', option: 'connections', call: (t) => onPool(t).warmup({ connections: 0 }) },
  { package: pkg, entry: 'pool.warmup', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, call: (t) => onPool(t).warmup({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'pool.close', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, call: (t) => onPool(t).close({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'pool.resize', bad: 'resize(undefined)', option: 'size', call: (t) => onPool(t).resize(undefined as never) },
  { package: pkg, entry: 'pool.on', bad: "on('error', 5)", option: 'listener', call: (t) => onPool(t).on('error', 5 as never) },
]
