import type { PoolRegistry, ServiceContainer } from '@lifeguard/core'

/**
 * Registers a MongoDB pool named `'events'` and `context.mongodb` for every request. The adapter (and
 * with it the MongoDB driver) is loaded only when this runs, so a service on PostgreSQL alone never
 * loads it; `npm start` builds it only when `MONGODB_URI` is set.
 *
 * @throws {Error} when `@lifeguard/mongodb` has not been built (run `npx turbo run build --filter=@lifeguard/mongodb`)
 */
export async function addMongoPool(registry: PoolRegistry, container: ServiceContainer<any>, uri: string, appName: string, log: (line: string) => void): Promise<void> {
  const { createMongoPool, registerMongo } = await import('@lifeguard/mongodb')
  const pool = registry.register(createMongoPool({ name: 'events', uri, appName, minSize: 1, maxSize: 10 }))
  registerMongo(container, pool)
  log(`MongoDB pool 'events' -> ${pool.target}`)
}
