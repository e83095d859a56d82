import { OperationContext, type ServiceContainer } from '@lifeguard/core'
import { checkOption, containerRule, validateOptions, poolNameRule } from '@lifeguard/core/adapter'
import { checkMongoPool, collectionRule, MongoHandle } from './mongo-handle.js'
import type { MongoPool } from './mongo-pool.js'

declare module '@lifeguard/core' {
  interface OperationContext {
    /**
     * The operation's handle on the pool registered as `'mongodb'` by `registerMongo()`; resolved on first
     * use and disposed, with the sessions it started, when the context is disposed. Other pools:
     * `context.get<MongoHandle>('analytics')`.
     *
     * @throws {ResolutionError} when no service named `'mongodb'` is registered
     */
    readonly mongodb: MongoHandle
  }
}

/** Options of `registerMongo()`. */
export interface RegisterMongoOptions<K extends string> {
  /** The service name; `'mongodb'` (the default) is also `context.mongodb`. */
  name?: K | undefined
  /**
   * The collection that `insertOne`, `find`, ... on the handle itself act on, as in
   * `context.mongodb.insertOne(data)`. Without it, name the collection: `context.mongodb.collection('x')`.
   */
  collection?: string | undefined
}

/** The service name `context.mongodb` resolves. */
export const DEFAULT_MONGO_SERVICE = 'mongodb'

/**
 * Registers a scoped `MongoHandle` on `pool`: each scope (each request or job) gets its own, bound to its
 * operation context, and disposing the scope ends the sessions the handle started. Registered as
 * `'mongodb'` it is also `context.mongodb`.
 *
 * @throws {RegistrationError} when the name is taken
 * @throws {InvalidOptionError} for a container or pool of the wrong kind, or bad options
 * @example
 * const container = createServiceContainer()
 * registerMongo(container, ordersPool)                              // context.mongodb
 * registerMongo(container, analyticsPool, { name: 'analytics' })   // context.get<MongoHandle>('analytics')
 * registerMongo(other, eventsPool, { collection: 'events' })        // context.mongodb.insertOne(event)
 */
export function registerMongo<S extends object, K extends string = 'mongodb'>(
  container: ServiceContainer<S>,
  pool: MongoPool,
  options: RegisterMongoOptions<K> = {},
): ServiceContainer<S & Record<K, MongoHandle>> {
  checkOption('registerMongo', 'container', container, containerRule)
  checkMongoPool('registerMongo', pool)
  validateOptions('registerMongo', options, { name: { ...poolNameRule, optional: true }, collection: collectionRule })
  const collection = options.collection
  const name = (options.name ?? DEFAULT_MONGO_SERVICE) as K
  OperationContext.defineAccessor(DEFAULT_MONGO_SERVICE, (context) => context.get<MongoHandle>(DEFAULT_MONGO_SERVICE))
  return container.scoped(name, (resolver) => new MongoHandle(pool, OperationContext.ofScope(resolver.scope), collection))
}
