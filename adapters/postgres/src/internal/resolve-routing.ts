// The options both pool faces share for where connections go: several hosts, the session a connection
// must have, and PgBouncer in transaction mode.
import { InvalidOptionError } from '@lifeguard/core'
import { checkOption, hasControlCharacter, holdsCredentials, looksLikeCredentials, rejectOption, shownText, type OptionRule } from '@lifeguard/core/adapter'
import pg from 'pg'
import type { PoolerOption, PostgresHost, TargetSessionAttrs } from '../options.js'
import type { PoolerSettings } from './settings.js'

const targets: readonly TargetSessionAttrs[] = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']

/**
 * A host name, address or socket folder. Not a connection string or `user:password@host` (a DATABASE_URL
 * passed as `host` by mistake): the host goes into the pool's `target`, its events and its metrics as it is.
 */
export const hostRule = {
  type: 'custom',
  expected: 'a host name, address or socket folder (not a connection string: no `://`, `@` or `password=`; no control characters)',
  check: (value: unknown) => typeof value === 'string' && value !== '' && !value.includes('@') && !looksLikeCredentials(value) && !hasControlCharacter(value),
} as const satisfies OptionRule

/**
 * A role or database name, or an `application_name`: sent to the server in the startup packet (a NUL there
 * made every connection attempt fail until the acquire timeout) and shown in the pool's `target`, events
 * and metrics as it is, so never a connection string or `password=` (a `user` never holds `:`: `app:secret`
 * would read as a password in the target).
 */
export function startupTextRule(kind: 'user' | 'database' | 'application name'): OptionRule {
  const isUser = kind === 'user'
  const nonEmpty = kind !== 'application name'
  return {
    type: 'custom',
    expected: `${nonEmpty ? `a non-empty ${kind}` : `an ${kind}`} of printable characters without credentials (no \`user:password@\` or \`password=\`${isUser ? ', no `:`' : ''})`,
    check: (value: unknown) => typeof value === 'string' && (!nonEmpty || value !== '') && !holdsCredentials(value) && !hasControlCharacter(value) && !(isUser && value.includes(':')),
    // A user given as `name:password` would show its password in the message.
    secret: isUser,
  }
}

/** Rules of `hosts`, `targetSessionAttrs` and `pooler` (entries of `hosts` are checked by `resolveRouting`). */
export const routingRules = {
  hosts: { type: 'custom', expected: 'a non-empty array of { host, port? }', check: (v) => Array.isArray(v) && v.length > 0, optional: true },
  targetSessionAttrs: { type: 'oneOf', values: targets, optional: true },
  pooler: {
    type: 'custom',
    expected: "`'pgbouncer-transaction'` or `{ type: 'pgbouncer-transaction', namedPreparedStatements?: boolean }`",
    check: (v) => v === 'pgbouncer-transaction' || isPoolerObject(v),
    optional: true,
  },
} satisfies Record<string, OptionRule>

function isPoolerObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const { type, namedPreparedStatements, ...rest } = value as Record<string, unknown>
  return type === 'pgbouncer-transaction' && (namedPreparedStatements === undefined || typeof namedPreparedStatements === 'boolean') && Object.keys(rest).length === 0
}

/** What the routing options resolve to. */
export interface Routing {
  hosts: readonly PostgresHost[] | undefined
  targetSessionAttrs: TargetSessionAttrs
  pooler: PoolerSettings | undefined
}

/**
 * Checks each of `hosts` and resolves the routing options (after `routingRules` passed).
 *
 * @throws {InvalidOptionError} for a bad host entry
 */
export function resolveRouting(where: string, options: { hosts?: readonly PostgresHost[] | undefined; targetSessionAttrs?: TargetSessionAttrs | undefined; pooler?: PoolerOption | undefined }): Routing {
  const hosts = options.hosts?.map((entry, index) => checkHost(where, `hosts[${index}]`, entry))
  const pooler = options.pooler
  return {
    hosts,
    targetSessionAttrs: options.targetSessionAttrs ?? 'any',
    pooler: pooler === undefined ? undefined : { namedPreparedStatements: typeof pooler === 'object' && pooler.namedPreparedStatements === true },
  }
}

function checkHost(where: string, name: string, entry: unknown): PostgresHost {
  checkOption(where, name, entry, { type: 'object' })
  const { host, port, ...rest } = entry as Record<string, unknown>
  const key = Object.keys(rest)[0]
  if (key !== undefined) {
    // Shown as a value is: a connection string spread into the entry by mistake is one.
    const unknown = `${name}.${shownText(key)}`
    throw new InvalidOptionError(unknown, 'a known option', `Invalid options for ${where}: unknown option \`${unknown}\`. Known options: \`host\`, \`port\`.`)
  }
  checkOption(where, `${name}.host`, host, hostRule)
  checkOption(where, `${name}.port`, port, { type: 'integer', min: 1, max: 65535, optional: true })
  return port === undefined ? { host: host as string } : { host: host as string, port: port as number }
}

/**
 * libpq's multi-host form for the `pg.Pool` face: `host: 'db1,db2'`, with one port for all or a
 * comma-separated list of as many (`port: '5432,5433'`). Undefined when `host` names one server.
 *
 * @throws {InvalidOptionError} when the ports do not pair up with the hosts
 */
export function splitHostList(where: string, host: unknown, port: unknown): PostgresHost[] | undefined {
  if (typeof host !== 'string' || !host.includes(',')) return undefined
  const names = host.split(',').map((name) => name.trim())
  if (names.some((name) => name === '')) rejectOption(where, 'host', 'a comma-separated list of host names', host)
  const ports = typeof port === 'string' ? port.split(',').map((p) => Number(p.trim())) : port === undefined ? [] : [port]
  if (ports.some((p) => !Number.isInteger(p) || (p as number) < 1 || (p as number) > 65535) || (ports.length > 1 && ports.length !== names.length)) {
    rejectOption(where, 'port', `a port, or a comma-separated list of ${names.length} ports`, port)
  }
  return names.map((name, index) => {
    const chosen = ports.length > 1 ? ports[index] : ports[0]
    return chosen === undefined ? { host: name } : { host: name, port: chosen as number }
  })
}

/**
 * The host list of `PGHOST` (and `PGPORT`), as libpq reads them (`PGHOST=db1,db2`), when the config names no
 * host, no hosts and no connection string: pg would look `db1,db2` up as one name, and fail every attempt.
 * Undefined for a single host.
 *
 * @throws {InvalidOptionError} as `splitHostList` does
 */
export function environmentHostList(where: string, config: { host?: unknown; hosts?: unknown; port?: unknown; connectionString?: unknown }): PostgresHost[] | undefined {
  if (config.host !== undefined || config.hosts !== undefined || config.connectionString !== undefined) return undefined
  return splitHostList(where, process.env['PGHOST'], config.port ?? process.env['PGPORT'])
}

// What pg sends in the startup packet beyond these is refused by PgBouncer (unless listed in its
// `ignore_startup_parameters`, which drops it silently: worse, since the setting then never applies).
const acceptedByPgBouncer = new Set(['user', 'database', 'application_name', 'client_encoding', 'datestyle', 'timezone', 'standard_conforming_strings'])

/**
 * Behind PgBouncer in transaction mode: refuses the client settings pg would send as startup
 * parameters that PgBouncer rejects (`statement_timeout`, `lock_timeout`,
 * `idle_in_transaction_session_timeout`, `options`, `replication`), naming each.
 *
 * @param optionName - how the caller spells a client setting (`pg.statement_timeout`, `statement_timeout`)
 * @throws {InvalidOptionError}
 */
export function checkStartupParameters(where: string, clientConfig: pg.ClientConfig, optionName: (key: string) => string): void {
  let sent: Record<string, unknown>
  try {
    sent = (new pg.Client(clientConfig) as unknown as { getStartupConf(): Record<string, unknown> }).getStartupConf()
  } catch {
    // pg could not parse the config: connecting will say why.
    return
  }
  const refused = Object.keys(sent).filter((key) => !acceptedByPgBouncer.has(key.toLowerCase()))
  if (refused.length === 0) return
  const given = clientConfig as Record<string, unknown>
  const names = refused.map((key) => (given[key] !== undefined ? `\`${optionName(key)}\`` : `\`${key}\` (from the connection string or a PG* environment variable)`))
  const first = refused[0] as string
  throw new InvalidOptionError(
    given[first] !== undefined ? optionName(first) : first,
    'not set with pooler: pgbouncer-transaction',
    `Invalid options for ${where}: ${names.join(', ')} ${refused.length === 1 ? 'is sent as a startup parameter' : 'are sent as startup parameters'}, which PgBouncer rejects (pooler: 'pgbouncer-transaction'). Set ${refused.length === 1 ? 'it' : 'them'} on the role or database (\`ALTER ROLE ... SET ...\`) or with \`SET LOCAL\` inside transaction(); \`query_timeout\` limits a query on the client side.`,
  )
}
