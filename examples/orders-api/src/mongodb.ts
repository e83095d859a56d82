import type { ManagedPool, PoolRegistry, ServiceContainer } from '@lifeguard/core'

// The part of `@lifeguard/mongodb` this example uses. The package is optional here: the service runs
// on PostgreSQL alone, and adds a MongoDB pool only when MONGODB_URI is set and the adapter is there.
interface MongoAdapter {
  createMongoPool(options: { name: string; uri: string; appName?: string; minSize?: number; maxSize?: number }): ManagedPool
  registerMongo?(container: ServiceContainer<any>, pool: ManagedPool): unknown
}

// A variable specifier keeps TypeScript from requiring the package at build time.
const adapterPackage = '@lifeguard/mongodb'

/**
 * Registers a MongoDB pool named `'events'` (and `context.mongodb`, when the adapter offers it) if
 * `@lifeguard/mongodb` can be loaded; otherwise logs why it was skipped. Returns whether it was added.
 */
export async function addMongoPool(registry: PoolRegistry, container: ServiceContainer<any>, uri: string, appName: string, log: (line: string) => void): Promise<boolean> {
  let adapter: MongoAdapter
  try {
    adapter = (await import(adapterPackage)) as MongoAdapter
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error
    log(`MONGODB_URI is set, but ${adapterPackage} is not installed or not built: running without a MongoDB pool`)
    return false
  }
  const pool = registry.register(adapter.createMongoPool({ name: 'events', uri, appName, minSize: 1, maxSize: 10 }))
  adapter.registerMongo?.(container, pool)
  log(`MongoDB pool 'events' -> ${pool.target}`)
  return true
}
