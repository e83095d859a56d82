// libpq's target_session_attrs: what a new connection's server must be, and how to ask it.
import type * as pg from 'pg'
import type { TargetSessionAttrs } from '../options.js'

/** What a server says about a session. */
export interface SessionRole {
  /** `pg_is_in_recovery()`: a standby. */
  readonly inRecovery: boolean
  /** `transaction_read_only`: a standby, or `default_transaction_read_only` is on. */
  readonly readOnly: boolean
}

// One round trip answers every target (libpq asks `SHOW transaction_read_only` and/or
// `SELECT pg_is_in_recovery()` depending on the target). Read as text with parsers of its own: the client's
// `types` may parse booleans as anything ('t'), and `binary: true` sends them as bytes.
const roleQuery: pg.QueryConfig = {
  text: "SELECT pg_is_in_recovery()::text AS in_recovery, (current_setting('transaction_read_only') = 'on')::text AS read_only",
  types: { getTypeParser: () => (value: string | Buffer) => String(value) } as unknown as pg.CustomTypesConfig,
}

/** Asks the server what the session is. */
export async function readSessionRole(client: pg.Client): Promise<SessionRole> {
  const { rows } = await client.query<{ in_recovery: string; read_only: string }>(roleQuery)
  const row = rows[0]
  return { inRecovery: row?.in_recovery === 'true', readOnly: row?.read_only === 'true' }
}

/**
 * True when the session fits the target. `prefer-standby` wants a standby on the first pass over the
 * hosts and takes any server on the second (`fallback`).
 */
export function roleMatches(target: TargetSessionAttrs, role: SessionRole, fallback = false): boolean {
  switch (target) {
    case 'any':
      return true
    case 'read-write':
      return !role.readOnly
    case 'read-only':
      return role.readOnly
    case 'primary':
      return !role.inRecovery
    case 'standby':
      return role.inRecovery
    case 'prefer-standby':
      return fallback || role.inRecovery
  }
}

/** How a mismatch reads in an error: `a standby (read-only)`, `a primary (read-only)`, `a primary`. */
export function describeRole(role: SessionRole): string {
  if (role.inRecovery) return 'a standby (read-only)'
  return role.readOnly ? 'a primary in read-only mode (default_transaction_read_only)' : 'a primary (read-write)'
}
