/**
 * `@lifeguard/mongodb`: MongoDB pools on the official driver behind Lifeguard's pool contract. Metrics and
 * lifecycle events come from the driver's CMAP events; an admission limit in front of operations makes
 * `resize()`, bounded and abortable waits and leak detection work although the driver fixes its pool size
 * at construction. A request-scoped handle (`context.mongodb`) ends the sessions an operation started.
 *
 * @packageDocumentation
 */

export { MongoPool, createMongoPool } from './mongo-pool.js'
export type { AcquireOptions } from './mongo-pool.js'
export type { MongoPoolOptions, OwnedClientOption } from './options.js'
export { MongoHandle, createMongoHandle } from './mongo-handle.js'
export { MongoLease } from './mongo-lease.js'
export { registerMongo, DEFAULT_MONGO_SERVICE } from './register-mongo.js'
export type { RegisterMongoOptions } from './register-mongo.js'
export { PoolClearedError, ClientClosedError } from './errors.js'
