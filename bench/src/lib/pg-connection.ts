// Where benchmarks find PostgreSQL: the usual PG* environment variables, with the machine's defaults.

/** Connection settings for `pg` and `createPostgresPool`, from PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD. */
export interface PgConnection {
  host: string
  port: number
  user: string
  database: string
  password?: string
}

/**
 * The connection settings benchmarks use.
 *
 * @example
 * const pool = createPostgresPool({ ...pgConnection(), name: 'orders', maxSize: 10 })
 */
export function pgConnection(env: NodeJS.ProcessEnv = process.env): PgConnection {
  return {
    host: env['PGHOST'] || '127.0.0.1',
    port: Number(env['PGPORT'] || 5432),
    user: env['PGUSER'] || 'postgres',
    database: env['PGDATABASE'] || 'test',
    ...(env['PGPASSWORD'] ? { password: env['PGPASSWORD'] } : {}),
  }
}
