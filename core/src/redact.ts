/**
 * Shows a connection string without its password (and without query parameters, which may carry
 * credentials such as `password=` or `sslkey=`): `postgres://app@db:5432/orders`.
 *
 * @example
 * redactConnectionString('postgres://app:s3cret@db:5432/orders?sslmode=require') // 'postgres://app@db:5432/orders'
 */
export function redactConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString)
    const user = url.username ? `${url.username}@` : ''
    return `${url.protocol}//${user}${url.host}${url.pathname === '/' ? '' : url.pathname}`
  } catch {
    // Not a URL (e.g. a libpq key=value string): keep only the keys that cannot be secret.
    const safe = connectionString
      .split(/\s+/)
      .filter((pair) => /^(host|port|dbname|user)=/.test(pair))
      .join(' ')
    return safe || '<redacted>'
  }
}

/** Connection-target fields from which `formatTarget` builds a safe display string. */
export interface TargetParts {
  /** The scheme, e.g. `postgres` or `mongodb`. */
  protocol: string
  /** The user name (URL-encoded in the result); left out when absent or empty. */
  user?: string | undefined
  /** The host; `localhost` when absent. */
  host?: string | undefined
  /** The port; left out when absent or empty. */
  port?: number | string | undefined
  /** The database name; left out when absent or empty. */
  database?: string | undefined
}

/**
 * Builds `protocol://user@host:port/database` with no password, from a driver config object.
 *
 * @example
 * formatTarget({ protocol: 'postgres', user: 'app', host: 'db', port: 5432, database: 'orders' })
 */
export function formatTarget(parts: TargetParts): string {
  const user = parts.user ? `${encodeURIComponent(parts.user)}@` : ''
  const port = parts.port === undefined || parts.port === '' ? '' : `:${parts.port}`
  const database = parts.database ? `/${parts.database}` : ''
  return `${parts.protocol}://${user}${parts.host ?? 'localhost'}${port}${database}`
}

/**
 * Removes every given secret (passwords, full connection strings) from a text, and any
 * `scheme://user:password@` credentials it finds.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let result = text
  for (const secret of secrets) {
    if (secret.length >= 3) result = result.split(secret).join('***')
  }
  // The userinfo ends at the last `@` of the authority (a password may hold a raw `@`); failing that,
  // at the first `@` (a password may hold a raw `/`).
  return result.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):(?:[^\s/?#]*@|[^@\s]*@)/gi, '$1:***@')
}

/**
 * Returns an error safe to report: same class name, code and message with secrets removed, and the
 * cause chain redacted the same way. Driver errors can quote the connection string.
 */
export function redactError(error: unknown, secrets: readonly string[] = []): Error {
  if (!(error instanceof Error)) return new Error(redactText(String(error), secrets))
  const message = redactText(error.message, secrets)
  // A non-Error cause (a string, an object) may quote a secret too: it is redacted into an Error.
  const cause = error.cause === undefined ? undefined : redactError(error.cause, secrets)
  // Own fields too, and what they hold: a driver keeps the server's reply (`errorResponse.errmsg`) there.
  const fields = Object.entries(error).map(([key, value]) => [key, scrubbed(value, secrets, fieldDepth)] as const)
  if (message === error.message && cause === error.cause && fields.every(([key, value]) => value === (error as unknown as Record<string, unknown>)[key])) return error
  // Same prototype, so `instanceof` and the class name survive.
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error
  for (const [key, value] of fields) Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true })
  Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true })
  if (cause !== undefined) Object.defineProperty(copy, 'cause', { value: cause, writable: true, configurable: true })
  if (error.stack) Object.defineProperty(copy, 'stack', { value: redactText(error.stack, secrets), writable: true, configurable: true })
  if (copy.name !== error.name) Object.defineProperty(copy, 'name', { value: error.name, writable: true, configurable: true })
  return copy
}

// How deep own fields are searched: a server's reply nests a level or two (`errorResponse.errInfo.details`).
const fieldDepth = 3

// The value with every string in it redacted: the same value when nothing changed, else a copy (plain
// objects and arrays only; anything else, an Error included, is left as it is).
function scrubbed(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redactText(value, secrets)
  if (depth === 0 || typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    const items = value.map((item) => scrubbed(item, secrets, depth - 1))
    return items.every((item, i) => item === value[i]) ? value : items
  }
  const prototype = Object.getPrototypeOf(value) as unknown
  if (prototype !== Object.prototype && prototype !== null) return value
  const entries = Object.entries(value).map(([key, item]) => [key, scrubbed(item, secrets, depth - 1)] as const)
  return entries.every(([key, item]) => item === (value as Record<string, unknown>)[key]) ? value : Object.fromEntries(entries)
}
