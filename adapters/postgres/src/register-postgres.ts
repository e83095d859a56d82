import { OperationContext, type ServiceContainer } from '@lifeguard/core'
import { checkOption, containerRule, validateOptions, poolNameRule } from '@lifeguard/core/adapter'
import { checkPostgresPool, PostgresHandle, type AnyPostgresPool } from './postgres-handle.js'

declare module '@lifeguard/core' {
  interface OperationContext {
    /**
     * The operation's handle on the pool registered as `'postgres'` by `registerPostgres()`; resolved on
     * first use. Other pools: `context.get<PostgresHandle>('orders')`.
     */
    readonly postgres: PostgresHandle
  }
}

/** Options of `registerPostgres()`. */
export interface RegisterPostgresOptions<K extends string> {
  /** The service name; `'postgres'` (the default) is also `context.postgres`. */
  name?: K | undefined
}

/** The service name `context.postgres` resolves. */
export const DEFAULT_POSTGRES_SERVICE = 'postgres'

/**
 * Registers a scoped `PostgresHandle` on `pool`: each scope (each request or job) gets its own, bound
 * to its operation context, and disposing the scope gives back whatever the handle still holds.
 * Registered as `'postgres'` it is also `context.postgres`.
 *
 * @throws {RegistrationError} when the name is taken
 * @throws {InvalidOptionError} for a container or pool of the wrong kind, or bad options
 * @example
 * const container = createServiceContainer()
 * registerPostgres(container, mainPool)                       // context.postgres
 * registerPostgres(container, ordersPool, { name: 'orders' }) // context.get<PostgresHandle>('orders')
 */
export function registerPostgres<S extends object, K extends string = 'postgres'>(
  container: ServiceContainer<S>,
  pool: AnyPostgresPool,
  options: RegisterPostgresOptions<K> = {},
): ServiceContainer<S & Record<K, PostgresHandle>> {
  checkOption('registerPostgres', 'container', container, containerRule)
  checkPostgresPool('registerPostgres', pool)
  validateOptions('registerPostgres', options, { name: { ...poolNameRule, optional: true } })
  const name = (options.name ?? DEFAULT_POSTGRES_SERVICE) as K
  OperationContext.defineAccessor(DEFAULT_POSTGRES_SERVICE, (context) => context.get<PostgresHandle>(DEFAULT_POSTGRES_SERVICE))
  return container.scoped(name, (resolver) => new PostgresHandle(pool, OperationContext.ofScope(resolver.scope)))
}
