import { InvalidOptionError, type PoolEventListeners } from '@lifeguard/core'
import { validateOptions, rejectOption, type OptionRules } from '@lifeguard/core/adapter'
import type pg from 'pg'
import type { OwnedDriverOption, PostgresPoolOptions } from '../options.js'

const where = 'createPostgresPool'

/** Options with every default filled in. */
export interface ResolvedOptions {
  name: string
  minSize: number
  maxSize: number
  acquireTimeoutMillis: number
  connectTimeoutMillis: number
  maxWaitingRequests: number | undefined
  idleTimeoutMillis: number
  maxLifetimeMillis: number
  maxLifetimeJitterMillis: number
  leakDetectionMillis: number
  events: PoolEventListeners | readonly PoolEventListeners[] | undefined
  /** What pg's Pool and Client get (without the pool settings Lifeguard owns). */
  connection: pg.PoolConfig
}

const isEvents = (value: unknown): boolean => {
  const isSet = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v)
  return isSet(value) || (Array.isArray(value) && value.every(isSet))
}

const rules: OptionRules<PostgresPoolOptions> = {
  name: { type: 'string', nonEmpty: true },
  connectionString: { type: 'string', nonEmpty: true, secret: true, optional: true },
  host: { type: 'string', nonEmpty: true, optional: true },
  port: { type: 'integer', min: 1, max: 65535, optional: true },
  user: { type: 'string', nonEmpty: true, optional: true },
  // Checked by hand below: a rule would echo a wrongly typed value, and this one is a secret.
  password: { type: 'custom', expected: 'a string or a function', check: () => true, optional: true },
  database: { type: 'string', nonEmpty: true, optional: true },
  ssl: { type: 'custom', expected: 'a boolean or TLS options', check: (v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null), optional: true },
  applicationName: { type: 'string', optional: true },
  minSize: { type: 'integer', min: 0, optional: true },
  maxSize: { type: 'integer', min: 1, optional: true },
  acquireTimeoutMillis: { type: 'integer', min: 1, optional: true },
  connectTimeoutMillis: { type: 'integer', min: 1, optional: true },
  maxWaitingRequests: { type: 'integer', min: 0, optional: true },
  idleTimeoutMillis: { type: 'integer', min: 0, optional: true },
  maxLifetimeMillis: { type: 'integer', min: 0, optional: true },
  maxLifetimeJitterMillis: { type: 'integer', min: 0, optional: true },
  leakDetectionMillis: { type: 'integer', min: 0, optional: true },
  events: { type: 'custom', expected: 'an object of listeners or an array of them', check: isEvents, optional: true },
  pg: { type: 'object', optional: true },
}

// Which Lifeguard option replaces each pool setting of pg's.
const owned: Record<OwnedDriverOption, string> = {
  max: 'maxSize',
  min: 'minSize',
  idleTimeoutMillis: 'idleTimeoutMillis',
  connectionTimeoutMillis: 'connectTimeoutMillis',
  maxLifetimeSeconds: 'maxLifetimeMillis',
  application_name: 'applicationName',
  Client: '',
  connectionString: 'connectionString',
  host: 'host',
  port: 'port',
  user: 'user',
  password: 'password',
  database: 'database',
  ssl: 'ssl',
}

/**
 * Validates `createPostgresPool` options and fills in the defaults.
 *
 * @throws {InvalidOptionError} naming the option, the value and the allowed range
 */
export function resolveOptions(options: PostgresPoolOptions): ResolvedOptions {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'an object', `Invalid options for ${where}: expected an object with at least \`name\`.`)
  }
  validateOptions(where, options, rules)
  const password = options.password
  if (password !== undefined && typeof password !== 'string' && typeof password !== 'function') {
    throw new InvalidOptionError('password', 'a string or a function', `Invalid options for ${where}: expected \`password\` to be a string or a function, got a ${typeof password}.`)
  }
  const driver = options.pg ?? {}
  for (const key of Object.keys(driver)) {
    if (Object.hasOwn(owned, key)) {
      const instead = owned[key as OwnedDriverOption]
      const hint = instead === '' ? 'Lifeguard sets it.' : `Use \`${instead}\` instead.`
      throw new InvalidOptionError(`pg.${key}`, 'not set', `Invalid options for ${where}: \`pg.${key}\` is managed by Lifeguard. ${hint}`)
    }
  }
  const minSize = options.minSize ?? 0
  const maxSize = options.maxSize ?? 10
  if (minSize > maxSize) rejectOption(where, 'minSize', `an integer <= maxSize (${maxSize})`, minSize)
  const acquireTimeoutMillis = options.acquireTimeoutMillis ?? 10_000
  const maxLifetimeMillis = options.maxLifetimeMillis ?? 0
  const maxLifetimeJitterMillis = options.maxLifetimeJitterMillis ?? Math.round(maxLifetimeMillis * 0.1)
  if (maxLifetimeJitterMillis > 0 && maxLifetimeJitterMillis >= maxLifetimeMillis) {
    rejectOption(where, 'maxLifetimeJitterMillis', `an integer < maxLifetimeMillis (${maxLifetimeMillis})`, maxLifetimeJitterMillis)
  }

  const connection: pg.PoolConfig = { ...driver }
  if (options.connectionString !== undefined) connection.connectionString = options.connectionString
  if (options.host !== undefined) connection.host = options.host
  if (options.port !== undefined) connection.port = options.port
  if (options.user !== undefined) connection.user = options.user
  if (password !== undefined) connection.password = password
  if (options.database !== undefined) connection.database = options.database
  if (options.ssl !== undefined) connection.ssl = options.ssl
  if (options.applicationName !== undefined) connection.application_name = options.applicationName

  return {
    name: options.name,
    minSize,
    maxSize,
    acquireTimeoutMillis,
    connectTimeoutMillis: options.connectTimeoutMillis ?? acquireTimeoutMillis,
    maxWaitingRequests: options.maxWaitingRequests,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
    maxLifetimeMillis,
    maxLifetimeJitterMillis,
    leakDetectionMillis: options.leakDetectionMillis ?? 0,
    events: options.events,
    connection,
  }
}
