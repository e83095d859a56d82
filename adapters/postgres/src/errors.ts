import { LifeguardError } from '@lifeguard/core'

/**
 * The server refused a new connection for a reason waiting will not fix (authentication failed, the
 * database does not exist, ...), so the checkout fails at once instead of retrying until
 * `acquireTimeoutMillis`. The cause is the driver's error, redacted.
 */
export class PostgresConnectError extends LifeguardError {
  override readonly name = 'PostgresConnectError'
  readonly pool: string
  /** The server's SQLSTATE, e.g. `'28P01'` (invalid password) or `'3D000'` (no such database). */
  readonly sqlState: string | undefined

  constructor(pool: string, target: string, cause: Error) {
    const sqlState = (cause as { code?: unknown }).code
    super('ERR_POSTGRES_CONNECT', `Could not connect pool '${pool}' to ${target}. The server refused: ${cause.message}.`, { cause })
    this.pool = pool
    this.sqlState = typeof sqlState === 'string' ? sqlState : undefined
  }
}
