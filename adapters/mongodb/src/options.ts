import { InvalidOptionError, type Clock, type PoolEventListeners } from '@lifeguard/core'
import { checkOption, clockRule, hasControlCharacter, looksLikeCredentials, poolEventsRule, rejectOption, validateOptions, type OptionRule, type OptionRules, poolNameRule, MAX_POOL_SIZE } from '@lifeguard/core/adapter'
import type { MongoClient, MongoClientOptions } from 'mongodb'
import { databaseNameRule } from './internal/names.js'

/** Driver options that Lifeguard sets itself from the pool's own options. */
export type OwnedClientOption = 'maxPoolSize' | 'minPoolSize' | 'maxIdleTimeMS' | 'appName'

/** Options of `createMongoPool()`. */
export interface MongoPoolOptions {
  /** Unique in its registry, e.g. `'orders'`. */
  name: string
  /** A MongoDB connection string. Never shown: errors, events and `target` use a redacted form. */
  uri: string
  /** Database of `db()` and `collection()` without a name. Default: the one in `uri`, else `'test'` (the driver's default). */
  dbName?: string | undefined
  /** Connections kept open and validated, also after idle pruning and pool clears. Default `0`. */
  minSize?: number | undefined
  /** Operations admitted at once, and so connections in use at most. Changed at run time by `resize()`. Default `10`. */
  maxSize?: number | undefined
  /**
   * The highest `maxSize` that `resize()` may set; it is the driver's `maxPoolSize`, fixed when the client is
   * built. Default: `maxSize` or 100, whichever is larger.
   */
  maxSizeLimit?: number | undefined
  /** How long an operation may wait for admission before `PoolTimeoutError`. Default `10000`. */
  acquireTimeoutMillis?: number | undefined
  /** Operations allowed to wait at once; one more is rejected at once with `PoolExhaustedError`. Default: unbounded. */
  maxWaitingRequests?: number | undefined
  /**
   * Idle connections are closed after this long (the driver's `maxIdleTimeMS`, checked every 100ms). It is also
   * how connections above a lowered `maxSize` go away. `0` keeps idle connections forever. Default `10000`.
   */
  maxIdleTimeMillis?: number | undefined
  /** Report an admitted operation or lease held longer than this through `onLeak`. `0` (default) turns it off. */
  leakDetectionMillis?: number | undefined
  /**
   * Sent to the server in the handshake (visible in `$currentOp` and server logs), at most 128 bytes of UTF-8,
   * with no control characters and never a connection string or credentials (`://`, `password=`, `user:password@`).
   * Default: the URI's `appName`, else `name` (cut to 128 bytes at a character boundary).
   */
  appName?: string | undefined
  /** Lifecycle listeners (`onConnect`, `onDisconnect`, `onError`, ...); one set or several. */
  events?: PoolEventListeners | readonly PoolEventListeners[] | undefined
  /** Any other `MongoClient` option (`heartbeatFrequencyMS`, `retryWrites`, `tls`, ...), except the ones Lifeguard owns. */
  clientOptions?: Omit<MongoClientOptions, OwnedClientOption> | undefined
  /**
   * Where the pool reads time and sets its own timers: the admission wait (`acquireTimeoutMillis`), `close()`'s
   * wait, `warmup()`'s deadline, the `minSize` keeper's retries, leak detection, the metrics' times. Tests pass a
   * manual clock. The driver's own timers (heartbeats, idle pruning, its timeouts) stay on the system clock.
   * Default: the system clock.
   */
  clock?: Clock | undefined
}

/** The options with defaults applied. */
export interface ResolvedMongoPoolOptions {
  name: string
  uri: string
  dbName: string | undefined
  minSize: number
  maxSize: number
  maxSizeLimit: number
  acquireTimeoutMillis: number
  maxWaitingRequests: number | undefined
  maxIdleTimeMillis: number
  leakDetectionMillis: number
  appName: string | undefined
  events: PoolEventListeners | readonly PoolEventListeners[] | undefined
  clientOptions: MongoClientOptions
  clock: Clock | undefined
}

const WHERE = 'createMongoPool'

// The driver cuts a longer appName to this many bytes without a word, mid-character if it falls there.
const maxAppNameBytes = 128

// Every handshake sends it in the client metadata, which `$currentOp` and the server's logs show: a connection
// string given by mistake (`appName: process.env.MONGO_URL`) would publish its password. Held to the rule of
// the pool's name, its default.
function isAppName(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= maxAppNameBytes && !looksLikeCredentials(value) && !hasControlCharacter(value)
}

const appNameRule: OptionRule = {
  type: 'custom',
  expected: `a non-empty string of at most ${maxAppNameBytes} bytes of printable characters that is not a connection string (no \`://\`, \`password=\` or \`user:password@\`)`,
  check: isAppName,
  // Refused for the credentials it may hold: redaction misses some (a password with a space), so it is not shown.
  secret: true,
}

// The pool's name may be longer; as the default appName it is cut where a character ends.
function defaultAppName(name: string): string {
  let appName = ''
  let bytes = 0
  for (const character of name) {
    bytes += Buffer.byteLength(character)
    if (bytes > maxAppNameBytes) break
    appName += character
  }
  return appName
}

const rules: OptionRules<MongoPoolOptions> = {
  name: poolNameRule,
  uri: { type: 'string', nonEmpty: true, secret: true },
  dbName: { ...databaseNameRule, optional: true },
  minSize: { type: 'integer', min: 0, max: MAX_POOL_SIZE, optional: true },
  maxSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE, optional: true },
  maxSizeLimit: { type: 'integer', min: 1, max: MAX_POOL_SIZE, optional: true },
  acquireTimeoutMillis: { type: 'duration', min: 1, optional: true },
  maxWaitingRequests: { type: 'integer', min: 0, optional: true },
  maxIdleTimeMillis: { type: 'duration', optional: true },
  leakDetectionMillis: { type: 'duration', optional: true },
  appName: { ...appNameRule, optional: true },
  events: poolEventsRule,
  clock: clockRule,
  clientOptions: { type: 'custom', expected: 'an object of MongoClient options', check: (v) => typeof v === 'object' && v !== null && !Array.isArray(v), optional: true },
}

// What Lifeguard sets on the driver, and from which of its own options.
const owned: Record<OwnedClientOption, string> = {
  maxPoolSize: '`maxSize` and `maxSizeLimit`',
  minPoolSize: '`minSize`',
  maxIdleTimeMS: '`maxIdleTimeMillis`',
  appName: '`appName`',
}

function ownedName(key: string): OwnedClientOption | undefined {
  const lower = key.toLowerCase()
  return (Object.keys(owned) as OwnedClientOption[]).find((name) => name.toLowerCase() === lower)
}

// The option names in a connection string's query (`mongodb://host/db?maxPoolSize=5&w=1`).
function queryKeys(uri: string): string[] {
  const withoutFragment = uri.split('#')[0] ?? ''
  const start = withoutFragment.indexOf('?')
  if (start === -1) return []
  // Everything after the first `?`: a value may hold one too (`authMechanismProperties=A:b?c`).
  return withoutFragment
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const key = pair.split('=')[0] ?? ''
      try {
        return decodeURIComponent(key)
      } catch {
        return key
      }
    })
    .filter((key) => key !== '')
}

/**
 * Validates the options of `createMongoPool` and applies defaults.
 *
 * @throws {InvalidOptionError}
 */
export function resolveOptions(options: MongoPoolOptions): ResolvedMongoPoolOptions {
  validateOptions(WHERE, options, rules)
  const minSize = options.minSize ?? 0
  // As on PostgreSQL: a minSize above the default maxSize asks for a maxSize, rather than moving it quietly.
  const maxSize = options.maxSize ?? 10
  if (minSize > maxSize) rejectOption(WHERE, 'minSize', `an integer <= \`maxSize\` (${maxSize})`, minSize)
  const maxSizeLimit = options.maxSizeLimit ?? Math.max(100, maxSize)
  if (maxSizeLimit < maxSize) rejectOption(WHERE, 'maxSizeLimit', `an integer >= \`maxSize\` (${maxSize})`, maxSizeLimit)
  const clientOptions: MongoClientOptions = { ...options.clientOptions }
  // The driver reads its option names regardless of case (`maxpoolsize` is `maxPoolSize`), in clientOptions
  // and in the connection string: a pool setting there would be overridden without a word.
  for (const key of Object.keys(clientOptions)) {
    const name = ownedName(key)
    if (name !== undefined) rejectOption(WHERE, `clientOptions.${key}`, `left out (Lifeguard sets it from ${owned[name]})`, (clientOptions as Record<string, unknown>)[key])
  }
  for (const key of queryKeys(options.uri)) {
    const name = ownedName(key)
    // The connection string's appName is taken (it names the application, as the driver would).
    if (name === undefined || name === 'appName') continue
    const expected = `a connection string without \`${key}\` (Lifeguard sets it from ${owned[name]})`
    // Not the connection string itself: it may hold credentials.
    throw new InvalidOptionError('uri', expected, `Invalid options for ${WHERE}: expected \`uri\` to be ${expected}, got one with \`${key}\`.`)
  }
  for (const [key, value] of Object.entries(clientOptions)) {
    const rule = driverOptionRule(key, value)
    if (rule !== undefined) checkOption(WHERE, `clientOptions.${key}`, value, rule)
  }
  return {
    name: options.name,
    uri: options.uri,
    dbName: options.dbName,
    minSize,
    maxSize,
    maxSizeLimit,
    acquireTimeoutMillis: options.acquireTimeoutMillis ?? 10_000,
    maxWaitingRequests: options.maxWaitingRequests,
    maxIdleTimeMillis: options.maxIdleTimeMillis ?? 10_000,
    leakDetectionMillis: options.leakDetectionMillis ?? 0,
    // An appName in the URI wins over the default, as it would with the bare driver.
    appName: options.appName ?? (/[?&]appname=/i.test(options.uri) ? undefined : defaultAppName(options.name)),
    events: options.events,
    clientOptions,
    clock: options.clock,
  }
}

// The driver checks few of its numbers: it took `maxConnecting: NaN` (every operation, and close(), then
// waited for good), a heartbeat every 0 ms (hundreds of hellos a second on an idle pool), and hands its
// durations (names ending in `MS`) to Node's timers, which fire at once above 2^31-1 ms.
function driverOptionRule(key: string, value: unknown): OptionRule | undefined {
  if (typeof value !== 'number') return undefined
  if (key === 'heartbeatFrequencyMS') return { type: 'duration', min: minHeartbeatFrequencyMillis }
  if (key.endsWith('MS')) return { type: 'duration' }
  if (key === 'maxConnecting') return { type: 'integer', min: 1 }
  return finiteNumber
}

// The driver's own floor between two heartbeats (`minHeartbeatFrequencyMS`).
const minHeartbeatFrequencyMillis = 500
const finiteNumber: OptionRule = { type: 'custom', expected: 'a finite number', check: (v) => Number.isFinite(v) }

/**
 * Checks what the driver parsed, from `clientOptions` and from the connection string
 * (`?serverSelectionTimeoutMS=...`, `/orders`, `?appName=...`): its numbers (durations, `maxConnecting`, ...),
 * and the database and appName the connection string names, by the rules the options follow. An error names
 * the option where it was written.
 *
 * @throws {InvalidOptionError} naming the option, never showing the connection string
 */
export function checkDriverOptions(client: MongoClient, options: ResolvedMongoPoolOptions): void {
  const given = new Map(Object.keys(options.clientOptions).map((key) => [key.toLowerCase(), key]))
  for (const [key, value] of Object.entries(client.options)) {
    const rule = driverOptionRule(key, value)
    if (rule === undefined) continue
    // The driver also takes a number written as a string in `clientOptions` ('100'): say where it was.
    const written = given.get(key.toLowerCase())
    if (written !== undefined) checkOption(WHERE, `clientOptions.${written}`, value, rule)
    else checkOption(`${WHERE} (connection string)`, key, value, rule)
  }
  // The path's database and the query's appName, held to the rules of the options of the same name.
  if (options.dbName === undefined && client.options.dbName !== 'test') checkOption(`${WHERE} (connection string)`, 'database', client.options.dbName, databaseNameRule)
  if (options.appName === undefined && client.options.appName !== undefined) checkOption(`${WHERE} (connection string)`, 'appName', client.options.appName, appNameRule)
}

/** The `MongoClient` options: the user's, plus the pool settings Lifeguard owns. */
export function driverOptions(options: ResolvedMongoPoolOptions): MongoClientOptions {
  return {
    ...options.clientOptions,
    // The driver's own cap; admission keeps connections in use at `maxSize` below it.
    maxPoolSize: options.maxSizeLimit,
    // `minSize` is kept by the pool itself, since the driver cannot change its minimum after construction.
    // The waiting count depends on it too: with no minimum, every connection the driver has pending was
    // started for a checkout, so its pending count bounds the checkouts waiting (`checkoutsInDriver`).
    minPoolSize: 0,
    maxIdleTimeMS: options.maxIdleTimeMillis,
    // The pool's `query` events come from command monitoring, which the driver cannot turn on later; the
    // application's own choice (in `clientOptions` or the URI) wins.
    ...(Object.keys(options.clientOptions).some((key) => key.toLowerCase() === 'monitorcommands') || /[?&]monitorcommands=/i.test(options.uri) ? {} : { monitorCommands: true }),
    ...(options.appName === undefined ? {} : { appName: options.appName }),
  }
}
