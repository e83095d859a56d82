/** The service's settings, all from the environment. */
export interface Config {
  /** Address to listen on; `PORT=0` picks a free port (the log line says which). */
  readonly host: string
  readonly port: number
  /** Your own PostgreSQL; when unset, an embedded server is started for the run. */
  readonly databaseUrl: string | undefined
  /** Adds a MongoDB pool (`@lifeguard/mongodb`) when set. */
  readonly mongodbUri: string | undefined
  /** PostgreSQL schema of the service's tables (created at start-up when missing). */
  readonly schema: string
  /** Shown in `pg_stat_activity.application_name`, so the server can tell this service's connections apart. */
  readonly applicationName: string
  /** How long a shutdown may wait for in-flight requests and checked-out connections. */
  readonly shutdownTimeoutMillis: number
}

/**
 * Reads the configuration from environment variables. A malformed URL is refused by name, never echoed:
 * it may hold a password.
 *
 * @throws {Error} naming the variable when a number, an identifier or a URL is malformed
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    // Blank is unset, as for every variable: `listen(port, '')` would bind every interface.
    host: nonEmpty(env.HOST)?.trim() ?? '127.0.0.1',
    port: integer(env, 'PORT', 3000, 65_535),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://user:password@host:5432/database'),
    mongodbUri: url(env, 'MONGODB_URI', ['mongodb:', 'mongodb+srv:'], 'mongodb://user:password@host:27017/database'),
    schema: identifier(env, 'DB_SCHEMA', 'orders_api'),
    applicationName: printable(env, 'APP_NAME', 'orders-api'),
    // Twice it plus 20 s bounds the whole shutdown (see run-http-service.ts), within the longest timer Node.js sets (2^31 - 1 ms).
    shutdownTimeoutMillis: integer(env, 'SHUTDOWN_TIMEOUT_MILLIS', 10_000, 1_000_000_000),
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = nonEmpty(env[name])
  if (raw === undefined) return fallback
  // Digits only: `Number()` also reads `0x1F90`, `1e3` and ` 8080 `.
  const value = /^\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`Expected ${name} to be an integer from 0 to ${max}, got '${raw}'.`)
  return value
}

// The database shows it to every operator (`pg_stat_activity`): printable, short, and no credentials. A stray
// carriage return from a `.env` file written on Windows is the usual offender.
function printable(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = nonEmpty(env[name]) ?? fallback
  // Not echoed: a value with ':' or '@' may be credentials.
  if (!/^[\x20-\x7e]{1,63}$/.test(value) || /[:@]/.test(value)) throw new Error(`Expected ${name} to be up to 63 printable ASCII characters without ':' or '@'.`)
  return value
}

function identifier(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = nonEmpty(env[name]) ?? fallback
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) throw new Error(`Expected ${name} to be a lower-case SQL identifier, got '${value}'.`)
  return value
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: readonly string[], shape: string): string | undefined {
  const value = nonEmpty(env[name])
  if (value === undefined) return undefined
  // The scheme and a host are checked, not the rest: a replica set's seed list (`mongodb://h1:27017,h2:27017/db`)
  // is no WHATWG URL, and the driver reads the string itself.
  const parts = /^([a-z][a-z0-9+.-]*:)\/\/(?:[^/?#]*@)?[^@/?#]+(?:[/?#]|$)/i.exec(value)
  if (parts === null || !protocols.includes(parts[1]!.toLowerCase())) throw new Error(`${name} is not a valid URL: expected ${shape}.`)
  return value
}
