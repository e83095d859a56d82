import { InvalidOptionError } from '@lifeguard/core'
import pg from 'pg'

// What pg reads as a connection string: a URL (any `scheme://`; pg reads them all as PostgreSQL's), a
// `socket:` URL, or a socket folder and a database name. Anything else it takes for a path below
// `postgres://base`: libpq's `host=db password=…` became a database named after the whole string, password
// included, on a host named `base`.
const readableByPg = /^(?:[a-z][a-z0-9+.-]*:\/\/|socket:|\/)/i
// Splits a URL where its authority ends (at the first `/`, `?` or `#`), keeping the character that ends it.
const authorityEnd = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([/?#])(.*)$/is
// A `@` followed by a host and a path: what follows a password's own `@` (`...@db/orders`, `...@[::1]/orders`).
const atHostAndPath = /@[^/?#@\s]+\//
// The query parameters pg and libpq read: a `@` in one's value (`?application_name=api@prod`) is no password's.
const queryParameters = new Set([
  'application_name', 'fallback_application_name', 'options', 'host', 'hostaddr', 'port', 'user', 'password', 'dbname', 'database',
  'sslmode', 'ssl', 'sslcert', 'sslkey', 'sslrootcert', 'sslpassword', 'sslcompression', 'uselibpqcompat', 'client_encoding',
  'connect_timeout', 'keepalives', 'keepalives_idle', 'target_session_attrs', 'replication', 'statement_timeout', 'lock_timeout',
  'idle_in_transaction_session_timeout', 'query_timeout',
])

/**
 * True for a user part with a raw `/`, `?` or `#` in its password, which pg would read as port, database or
 * query, the rest of the password shown with them in the pool's target. Told by a `@` after the authority ended:
 * followed by a host and a path; or, when the authority has no `@` of its own, anywhere but in the value of a
 * query parameter pg reads. (So a database name holding a `@` is taken only after a user part:
 * `postgres://app@db/orders@eu`.)
 */
function userPartCut(url: string): boolean {
  const parts = authorityEnd.exec(url)
  if (parts === null) return false
  const [, authority, cutBy, rest] = parts as unknown as [string, string, string, string]
  const at = rest.indexOf('@')
  if (at === -1) return false
  if (atHostAndPath.test(rest)) return true
  if (authority.includes('@')) return false
  if (cutBy === '#') return true
  const query = cutBy === '?' ? 0 : rest.indexOf('?') + 1
  if (query === 0 && cutBy !== '?') return true
  if (query > at) return true
  // The parameter whose value holds the `@`: the last one started before it.
  const parameter = rest.slice(query, at).split('&').pop() as string
  const equals = parameter.indexOf('=')
  return equals === -1 || !queryParameters.has(parameter.slice(0, equals))
}

const expected = 'a PostgreSQL URL (postgres://user:password@host:5432/database, postgresql://…, socket:/folder?db=name, or "/socket/folder database")'

/**
 * Rejects a connection string that pg would misread or fail to parse, before any connection is tried:
 * such a string otherwise fails every checkout until the acquire timeout, or connects somewhere else with
 * its password in the pool's target. The message never shows the string, which may hold a password.
 *
 * @param where - who takes the option, for the message (e.g. `createPostgresPool`)
 * @throws {InvalidOptionError} naming `connectionString`
 */
export function checkConnectionString(where: string, connectionString: unknown): void {
  if (connectionString === undefined) return
  if (typeof connectionString !== 'string' || !readableByPg.test(connectionString)) {
    const got = typeof connectionString === 'string' ? 'a string with no `scheme://` (pg reads no key=value strings)' : `a ${connectionString === null ? 'null' : typeof connectionString}`
    throw rejection(where, got)
  }
  if (userPartCut(connectionString)) throw rejection(where, `a URL whose user part is cut short (${percentEncode})`)
  try {
    // Parsed as the driver will parse it; a client that is never connected.
    new pg.Client({ connectionString })
  } catch (error) {
    // A URL error says nothing safe to show; a file the URL names (`sslrootcert=`) that cannot be read does.
    const { code, path } = error as { code?: unknown; path?: unknown }
    if (code === 'ERR_INVALID_URL' || typeof code !== 'string') throw rejection(where, `a URL that does not parse (${unparsedHints})`)
    throw rejection(where, `a URL naming what pg could not use (${code}${typeof path === 'string' ? ` ${path}` : ''})`)
  }
}

const percentEncode = 'in a password, `/`, `?` and `#` must be percent-encoded'
const unparsedHints = `a port is 1 to 65535; several hosts go in \`hosts\` or \`host: 'db1,db2'\`, not in the URL; ${percentEncode}`

function rejection(where: string, got: string): InvalidOptionError {
  return new InvalidOptionError('connectionString', expected, `Invalid options for ${where}: expected \`connectionString\` to be ${expected}, got \`<redacted>\`: ${got}.`)
}
