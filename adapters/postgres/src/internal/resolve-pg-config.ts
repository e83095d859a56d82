import { InvalidOptionError } from '@lifeguard/core'
import { MAX_POOL_SIZE, MAX_TIMER_MILLIS, checkOption, rejectOption, satisfiesRule, type OptionRule, poolNameRule } from '@lifeguard/core/adapter'
import pg from 'pg'
import type { PoolConfig } from '../pool.js'
import { poolEventsRule } from '@lifeguard/core/adapter'
import { checkConnectionString } from './connection-string-rule.js'
import { clientTimerRules, maxUsesSetting, poolHookRules } from './pool-hook-rules.js'
import { checkStartupParameters, environmentHostList, hostRule, resolveRouting, routingRules, splitHostList, startupTextRule } from './resolve-routing.js'
import type { ClientClass, PgPoolSettings } from './settings.js'

const where = 'new Pool'

// pg.Pool's own settings and Lifeguard's extras; everything else in the config goes to pg.Client as is.
const poolKeys = new Set(['name', 'max', 'poolSize', 'min', 'idleTimeoutMillis', 'connectionTimeoutMillis', 'maxLifetimeSeconds', 'maxUses', 'allowExitOnIdle', 'onConnect', 'verify', 'log', 'Promise', 'Client', 'maxWaitingRequests', 'leakDetectionMillis', 'maxLifetimeJitterMillis', 'validateAfterIdleMillis', 'events', 'clock', 'hosts', 'targetSessionAttrs', 'pooler'])

// pg.Pool's names for the pool size, where 0 means unset.

const rules: Record<string, OptionRule> = {
  name: { ...poolNameRule, optional: true },
  // 0 reads as unset (see below).
  max: { type: 'integer', min: 0, max: MAX_POOL_SIZE, optional: true },
  poolSize: { type: 'integer', min: 0, max: MAX_POOL_SIZE, optional: true },
  min: { type: 'integer', min: 0, max: MAX_POOL_SIZE, optional: true },
  connectionTimeoutMillis: { type: 'duration', optional: true },
  maxLifetimeSeconds: { type: 'number', min: 0, max: Math.floor(MAX_TIMER_MILLIS / 1000), optional: true },
  ...poolHookRules,
  ...clientTimerRules,
  log: { type: 'function', optional: true },
  Promise: { type: 'function', optional: true },
  maxWaitingRequests: { type: 'integer', min: 0, optional: true },
  leakDetectionMillis: { type: 'duration', optional: true },
  maxLifetimeJitterMillis: { type: 'duration', optional: true },
  validateAfterIdleMillis: { type: 'duration', optional: true },
  events: poolEventsRule,
  ...routingRules,
}

const portRule: OptionRule = {
  type: 'custom',
  expected: 'a port: an integer between 1 and 65535, or its digits as a string',
  check: (v) => {
    const port = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v
    return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535
  },
  numeric: true,
}

// pg-pool reads these with `||`, `!value` or as truthy, so `null` is unset there (`max: null` is a pool of 10,
// `log: null` no logger), as `undefined` is: a YAML key left empty.
const nullMeansUnset = ['max', 'poolSize', 'min', 'maxUses', 'maxLifetimeSeconds', 'connectionTimeoutMillis', 'allowExitOnIdle', 'log', 'Client', 'Promise', 'onConnect', 'verify']

/** `config` without the settings it gives as `null` that pg-pool reads as unset. */
function withoutUnsetNulls(config: PoolConfig): PoolConfig {
  if (typeof config !== 'object' || config === null || !nullMeansUnset.some((key) => (config as Record<string, unknown>)[key] === null)) return config
  // A copy with every own property as it is (a password kept non-enumerable, as a pool's `options` keep it)
  // and the same prototype (a config built on another one).
  const copy = Object.create(Object.getPrototypeOf(config) as object | null, Object.getOwnPropertyDescriptors(config)) as Record<string, unknown>
  for (const key of nullMeansUnset) if (copy[key] === null) delete copy[key]
  return copy as PoolConfig
}

/**
 * Turns a `pg.Pool` config into the pool's settings, with pg's defaults and meanings: `max` 10 (also for 0),
 * `idleTimeoutMillis` 10000 (0 or null keeps idle clients), `connectionTimeoutMillis` 0 (wait and
 * connect without limit), connection errors reported at once rather than retried.
 *
 * @throws {InvalidOptionError} for a pool setting of the wrong type or out of range, naming it
 */
export function resolvePgConfig(configGiven: PoolConfig): PgPoolSettings {
  const config = withoutUnsetNulls(configGiven)
  if (config !== undefined && (typeof config !== 'object' || config === null)) rejectOption(where, 'config', 'a pg.Pool config object', config)
  const given = (config ?? {}) as Record<string, unknown>
  for (const [key, rule] of Object.entries(rules)) checkOption(where, key, given[key], rule)
  // pg takes any host and fails when connecting; a connection string given as the host would also put its
  // password into the pool's target, events and metrics.
  if (typeof given['host'] === 'string' && given['host'] !== '') checkOption(where, 'host', given['host'], hostRule)
  // Given as strings, they go into the startup packet and the pool's target as they are (pg takes other types and fails later).
  for (const [key, kind] of [['user', 'user'], ['database', 'database'], ['application_name', 'application name']] as const) {
    if (typeof given[key] === 'string' && given[key] !== '') checkOption(where, key, given[key], startupTextRule(kind))
  }
  // pg ignores an empty connection string, so a drop-in does too.
  if (given['connectionString'] !== '' && given['connectionString'] !== null) checkConnectionString(where, given['connectionString'])
  const idleTimeout = given['idleTimeoutMillis']
  if (idleTimeout !== undefined && idleTimeout !== null) checkOption(where, 'idleTimeoutMillis', idleTimeout, { type: 'duration' })

  // `poolSize` is pg's old name for `max`. pg-pool reads `max || poolSize || 10`: a 0 (what
  // `Number(process.env.DB_POOL_MAX ?? 0)` gives) means unset, not a pool that can never serve. Only here:
  // createPostgresPool's own `maxSize` refuses 0.
  const maxSize = config?.max || (given['poolSize'] as number | undefined) || 10
  const minSize = config?.min ?? 0
  if (minSize > maxSize) rejectOption(where, 'min', `an integer <= max (${maxSize})`, minSize)
  const connectionTimeout = config?.connectionTimeoutMillis ?? 0
  const maxLifetimeMillis = Math.round((config?.maxLifetimeSeconds ?? 0) * 1000)
  const jitter = config?.maxLifetimeJitterMillis ?? Math.round(maxLifetimeMillis * 0.1)
  if (jitter > 0 && jitter >= maxLifetimeMillis) rejectOption(where, 'maxLifetimeJitterMillis', `an integer < maxLifetimeSeconds * 1000 (${maxLifetimeMillis})`, jitter)

  // What pg reads as no port (0, NaN, '', null) is none for a list of hosts either.
  const listed = splitHostList(where, given['host'], given['port'] || undefined) ?? environmentHostList(where, { ...given, port: given['port'] || undefined })
  // pg makes a number of any port it takes as it connects: `'abc'`, `'0'` or 70000 failed every checkout. It
  // takes only a truthy one (0, NaN, '' or null: PGPORT, else 5432). (With a list of hosts, from `host` or
  // `PGHOST`, the ports were checked with it.)
  const port = given['port']
  if (listed === undefined && Boolean(port)) checkOption(where, 'port', port, portRule)
  const routing = resolveRouting(where, { ...(config as PoolConfig), ...(listed === undefined ? {} : { hosts: listed }) })
  if (given['hosts'] !== undefined) {
    for (const key of ['host', 'port', 'connectionString']) {
      if (given[key] !== undefined) throw new InvalidOptionError(key, 'not set with `hosts`', `Invalid options for ${where}: \`${key}\` cannot be combined with \`hosts\`; list the servers in \`hosts\` (or in \`host\`, comma-separated).`)
    }
  }
  if (routing.hosts !== undefined && given['connectionString'] !== undefined) {
    throw new InvalidOptionError('connectionString', 'not set with several hosts', `Invalid options for ${where}: \`connectionString\` cannot be combined with several hosts; give user, password and database as options.`)
  }

  // Every client gets the connection and client settings; the password stays out of sight (not
  // enumerable), as pg.Pool keeps it, so logging the config does not show it.
  const clientConfig: pg.ClientConfig = {}
  for (const [key, value] of Object.entries(given)) if (!poolKeys.has(key)) (clientConfig as Record<string, unknown>)[key] = value
  // The pool's and the clients' both: pg-pool hands its whole config to each client, whose `query()` and `end()`
  // then return that Promise, as code written for pg.Pool may check.
  if (given['Promise'] !== undefined) (clientConfig as Record<string, unknown>)['Promise'] = given['Promise']
  // The servers are tried one by one, each with its own host and port.
  if (listed !== undefined) {
    delete clientConfig.host
    delete clientConfig.port
  }
  if ('password' in given) Object.defineProperty(clientConfig, 'password', { value: given['password'], enumerable: false, writable: true, configurable: true })

  if (routing.pooler !== undefined) checkStartupParameters(where, clientConfig, (key) => key)

  return {
    // pg.Pool takes any application_name (a URL, say): one that is no valid pool name names nothing.
    name: config?.name ?? (typeof config?.application_name === 'string' && satisfiesRule(config.application_name, poolNameRule) ? config.application_name : 'postgres'),
    Client: (config?.Client as ClientClass | undefined) ?? pg.Client,
    clientConfig,
    ...routing,
    minSize,
    maxSize,
    acquireTimeoutMillis: connectionTimeout,
    connectTimeoutMillis: connectionTimeout,
    maxWaitingRequests: config?.maxWaitingRequests,
    idleTimeoutMillis: idleTimeout === undefined ? 10_000 : ((idleTimeout as number | null) ?? 0),
    maxLifetimeMillis,
    maxLifetimeJitterMillis: jitter,
    validateAfterIdleMillis: config?.validateAfterIdleMillis ?? 30_000,
    maxUses: maxUsesSetting(config?.maxUses),
    leakDetectionMillis: config?.leakDetectionMillis ?? 0,
    retryCreate: false,
    allowExitOnIdle: config?.allowExitOnIdle === true,
    onConnect: config?.onConnect as PgPoolSettings['onConnect'],
    verify: config?.verify,
    events: config?.events,
    clock: config?.clock,
  }
}
