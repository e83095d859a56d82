import { InvalidOptionError } from '@lifeguard/core'
import pg from 'pg'

// What pg reads as a connection string: a URL (any `scheme://`; pg reads them all as PostgreSQL's), a
// `socket:` URL, or a socket folder and a database name. Anything else it takes for a path below
// `postgres://base`: libpq's `host=db password=…` became a database named after the whole string, password
// included, on a host named `base`.
const readableByPg = /^(?:[a-z][a-z0-9+.-]*:\/\/|socket:|\/)/i
// Splits a URL where its authority ends (at the first `/`, `?` or `#`), keeping the character that ends it.
const authorityEnd = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([/?#])(.*)$/is

// A user part with a raw `/`, `?` or `#` in its password, which pg would read as port, database or query,
// the password shown with them: an authority with no `@`, and a `@` after it. Not a `@` in a query's value
// (`?application_name=api@prod`: a `=` or `&` comes first), unless a host and a path follow it, as after a
// password (`app:2024?x=pw@db/orders`); a fragment (`#`) holds nothing pg reads.
function userPartCut(url: string): boolean {
  const parts = authorityEnd.exec(url)
  if (parts === null || (parts[1] as string).includes('@')) return false
  const rest = parts[3] as string
  const at = rest.indexOf('@')
  if (at === -1) return false
  if (parts[2] === '#') return true
  return !/[=&]/.test(rest.slice(0, at)) || /^[^/?#&=\s]+\//.test(rest.slice(at + 1))
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
