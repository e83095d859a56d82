import { InvalidOptionError } from '@lifeguard/core'
import { checkOption, clockRule, MAX_POOL_SIZE, rejectOption, validateOptions, type OptionRules, poolNameRule } from '@lifeguard/core/adapter'
import pg from 'pg'
import type { OwnedDriverOption, PostgresPoolOptions } from '../options.js'
import { poolEventsRule } from '@lifeguard/core/adapter'
import { checkConnectionString } from './connection-string-rule.js'
import { clientTimerRules, maxUsesSetting, poolHookRules } from './pool-hook-rules.js'
import { checkStartupParameters, environmentHostList, hostRule, resolveRouting, routingRules, splitHostList, startupTextRule } from './resolve-routing.js'
import type { ClientClass, PgPoolSettings } from './settings.js'

const where = 'createPostgresPool'

const rules: OptionRules<PostgresPoolOptions> = {
  name: poolNameRule,
  connectionString: { type: 'string', nonEmpty: true, secret: true, optional: true },
  host: { ...hostRule, optional: true },
  port: { type: 'integer', min: 1, max: 65535, optional: true },
  user: { ...startupTextRule('user'), optional: true },
  // Checked by hand below: a rule would echo a wrongly typed value, and this one is a secret.
  password: { type: 'custom', expected: 'a string or a function', check: () => true, optional: true },
  database: { ...startupTextRule('database'), optional: true },
  ...routingRules,
  ssl: { type: 'custom', expected: 'a boolean or TLS options', check: (v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null), optional: true },
  applicationName: { ...startupTextRule('application name'), optional: true },
  minSize: { type: 'integer', min: 0, max: MAX_POOL_SIZE, optional: true },
  maxSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE, optional: true },
  acquireTimeoutMillis: { type: 'duration', min: 1, optional: true },
  connectTimeoutMillis: { type: 'duration', min: 1, optional: true },
  maxWaitingRequests: { type: 'integer', min: 0, optional: true },
  idleTimeoutMillis: { type: 'duration', optional: true },
  maxLifetimeMillis: { type: 'duration', optional: true },
  maxLifetimeJitterMillis: { type: 'duration', optional: true },
  validateAfterIdleMillis: { type: 'duration', optional: true },
  leakDetectionMillis: { type: 'duration', optional: true },
  events: poolEventsRule,
  pg: { type: 'custom', expected: 'an object of pg.Client and pg.Pool settings', check: (v) => typeof v === 'object' && v !== null && !Array.isArray(v), optional: true },
  clock: clockRule,
}

// What to do instead of each setting of pg's that Lifeguard owns: mostly, which Lifeguard option replaces it.
const owned: Record<OwnedDriverOption, string> = {
  max: 'Use `maxSize` instead',
  min: 'Use `minSize` instead',
  idleTimeoutMillis: 'Use `idleTimeoutMillis` instead',
  connectionTimeoutMillis: 'Use `connectTimeoutMillis` instead',
  maxLifetimeSeconds: 'Use `maxLifetimeMillis` instead',
  application_name: 'Use `applicationName` instead',
  connectionString: 'Use `connectionString` instead',
  host: 'Use `host` instead',
  port: 'Use `port` instead',
  user: 'Use `user` instead',
  password: 'Use `password` instead',
  database: 'Use `database` instead',
  ssl: 'Use `ssl` instead',
  poolSize: 'Use `maxSize` instead',
  log: 'Use `events` (`onConnect`, `onDisconnect`, `onError`, ...) instead',
  Promise: 'Its promises are native ones (the drop-in `Pool` takes a `Promise` class)',
}

/**
 * Validates `createPostgresPool` options and fills in the defaults.
 *
 * @throws {InvalidOptionError} naming the option, the value and the allowed range
 */
export function resolveOptions(options: PostgresPoolOptions): PgPoolSettings {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'an object', `Invalid options for ${where}: expected an object with at least \`name\`.`)
  }
  validateOptions(where, options, rules)
  checkConnectionString(where, options.connectionString)
  const password = options.password
  if (password !== undefined && typeof password !== 'string' && typeof password !== 'function') {
    throw new InvalidOptionError('password', 'a string or a function', `Invalid options for ${where}: expected \`password\` to be a string or a function, got a ${typeof password}.`)
  }
  const { Client, onConnect, verify, allowExitOnIdle, maxUses, ...driver } = options.pg ?? {}
  for (const key of Object.keys(driver)) {
    if (Object.hasOwn(owned, key)) {
      throw new InvalidOptionError(`pg.${key}`, 'not set', `Invalid options for ${where}: \`pg.${key}\` is managed by Lifeguard. ${owned[key as OwnedDriverOption]}.`)
    }
  }
  const pgSettings = (options.pg ?? {}) as Record<string, unknown>
  for (const [key, rule] of Object.entries({ ...poolHookRules, ...clientTimerRules })) checkOption(where, `pg.${key}`, pgSettings[key], rule)
  // libpq's `host: 'db1,db2'` (one port for all) means the same as `hosts`.
  const listed = options.hosts === undefined ? (splitHostList(where, options.host, options.port) ?? environmentHostList(where, options)) : undefined
  const routing = resolveRouting(where, listed === undefined ? options : { ...options, hosts: listed })
  if (listed !== undefined && options.connectionString !== undefined) {
    throw new InvalidOptionError('connectionString', 'not set with several hosts', `Invalid options for ${where}: \`connectionString\` cannot be combined with several hosts; give user, password and database as options.`)
  }
  if (options.hosts !== undefined) {
    // pg lets a connection string's host win over any other, so the list could not take effect.
    for (const key of ['host', 'port', 'connectionString'] as const) {
      if (options[key] !== undefined) throw new InvalidOptionError(key, 'not set with `hosts`', `Invalid options for ${where}: \`${key}\` cannot be combined with \`hosts\`; give the servers in \`hosts\` and user, password and database as options.`)
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

  const clientConfig: pg.ClientConfig = { ...driver }
  if (options.connectionString !== undefined) clientConfig.connectionString = options.connectionString
  if (options.host !== undefined && listed === undefined) clientConfig.host = options.host
  if (options.port !== undefined && listed === undefined) clientConfig.port = options.port
  if (options.user !== undefined) clientConfig.user = options.user
  if (password !== undefined) clientConfig.password = password
  if (options.database !== undefined) clientConfig.database = options.database
  if (options.ssl !== undefined) clientConfig.ssl = options.ssl
  if (options.applicationName !== undefined) clientConfig.application_name = options.applicationName
  if (routing.pooler !== undefined) checkStartupParameters(where, clientConfig, (key) => `pg.${key}`)

  return {
    name: options.name,
    Client: (Client as ClientClass | undefined) ?? pg.Client,
    clientConfig,
    ...routing,
    minSize,
    maxSize,
    acquireTimeoutMillis,
    connectTimeoutMillis: options.connectTimeoutMillis ?? acquireTimeoutMillis,
    maxWaitingRequests: options.maxWaitingRequests,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
    maxLifetimeMillis,
    maxLifetimeJitterMillis,
    validateAfterIdleMillis: options.validateAfterIdleMillis ?? 30_000,
    maxUses: maxUsesSetting(maxUses),
    leakDetectionMillis: options.leakDetectionMillis ?? 0,
    retryCreate: true,
    allowExitOnIdle: allowExitOnIdle === true,
    onConnect: onConnect as PgPoolSettings['onConnect'],
    verify,
    events: options.events,
    clock: options.clock,
  }
}
