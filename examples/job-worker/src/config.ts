/** The worker's settings, all from the environment. */
export interface WorkerConfig {
  /** Redis of the queue; default `redis://127.0.0.1:6379`. */
  readonly redisUrl: string
  /** PostgreSQL of the `payments` table; default from the `PG*` variables, then `postgres://postgres@127.0.0.1:5432/test`. */
  readonly databaseUrl: string
  readonly queueName: string
  /** Jobs run at once, and the pool's `maxSize`. */
  readonly concurrency: number
  /** Schema of the `payments` table, created at start-up when missing. */
  readonly schema: string
  /** `application_name` of the pool's connections. */
  readonly applicationName: string
  /** How many times to try Redis at start-up (half a second apart) before giving up. */
  readonly redisConnectAttempts: number
  /** At shutdown, how long the jobs in progress get to finish before they are cancelled. */
  readonly drainMillis: number
}

/**
 * Reads the configuration from environment variables. A malformed URL is refused by name, never echoed:
 * it may hold a password.
 *
 * @throws {Error} naming the variable and what it should look like
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const databaseUrl = env.DATABASE_URL || urlFromPgSettings(env)
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379'
  // Named after what the user set: DATABASE_URL, or the PG* settings the URL was built from.
  const shape = 'postgres://user:password@host:5432/database'
  if (env.DATABASE_URL) checkUrl('DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:'], shape)
  else checkUrl('The URL built from PGUSER, PGHOST, PGPORT and PGDATABASE', databaseUrl, ['postgres:', 'postgresql:'], `${shape} (for a socket directory as PGHOST, set DATABASE_URL)`)
  checkUrl('REDIS_URL', redisUrl, ['redis:', 'rediss:'], 'redis://[:password@]host:6379[/db]')
  return {
    redisUrl,
    databaseUrl,
    queueName: env.QUEUE || 'billing',
    // Also the pool's maxSize: bounded here, so a large value is refused in its own name.
    concurrency: integer(env, 'CONCURRENCY', 4, 1, 1000),
    schema: identifier(env, 'DB_SCHEMA', 'job_worker'),
    applicationName: env.APP_NAME || 'job-worker',
    redisConnectAttempts: integer(env, 'REDIS_CONNECT_ATTEMPTS', 10, 1),
    // Within the 30 s the whole shutdown gets: room is left for Redis and the pool.
    drainMillis: integer(env, 'DRAIN_MILLIS', 15_000, 0, 18_000),
  }
}

// libpq's settings as a URL, encoded as pg reads it back (the user name with decodeURIComponent, the database
// name with decodeURI, which leaves `?` and `#` encoded: such a name needs DATABASE_URL); an IPv6 address in brackets.
function urlFromPgSettings(env: NodeJS.ProcessEnv): string {
  const host = env.PGHOST ?? '127.0.0.1'
  const authority = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const database = env.PGDATABASE ?? 'test'
  if (/[?#%]/.test(database)) throw new Error("PGDATABASE holds '?', '#' or '%', which a URL cannot carry to pg: set DATABASE_URL instead.")
  return `postgres://${encodeURIComponent(env.PGUSER ?? 'postgres')}@${authority}:${env.PGPORT ?? '5432'}/${encodeURI(database)}`
}

function checkUrl(name: string, value: string, protocols: readonly string[], shape: string): void {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (url === undefined || !protocols.includes(url.protocol) || url.hostname === '') {
    throw new Error(`${name} is not a valid URL: expected ${shape}.`)
  }
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  // Digits only: `Number()` also reads `0x10`, `1e3` and a blank as 0.
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`Expected ${name} to be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got '${raw}'.`)
  }
  return value
}

function identifier(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] || fallback
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) throw new Error(`Expected ${name} to be a lower-case SQL identifier, got '${value}'.`)
  return value
}
