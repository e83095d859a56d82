import { InvalidOptionError } from './errors.js'
import { escapeUnprintable, loneSurrogate, unprintableInName } from './printable.js'
import { redactText } from './redact.js'

/**
 * The longest delay a Node.js timer honours (2^31-1 ms, about 24.8 days). A larger one fires after
 * ~1 ms, so every duration option is capped here.
 */
export const MAX_TIMER_MILLIS = 2_147_483_647

/**
 * The largest pool size any option or `resize()` takes: far above what a server serves (PostgreSQL's default
 * `max_connections` and the MongoDB driver's default `maxPoolSize` are 100). A larger one is a mistake
 * (`2 ** 31` meant as "no limit"), and a warm-up opens that many connections at once.
 */
export const MAX_POOL_SIZE = 10_000

/** One option's rule. `optional` options may be absent or `undefined`. */
export type OptionRule =
  | { readonly type: 'integer' | 'number'; readonly min?: number; readonly max?: number; readonly optional?: boolean }
  /** Milliseconds a timer will wait for: an integer from `min` (default 0) to `MAX_TIMER_MILLIS`. */
  | { readonly type: 'duration'; readonly min?: number; readonly optional?: boolean }
  | { readonly type: 'string'; readonly nonEmpty?: boolean; readonly secret?: boolean; readonly optional?: boolean }
  | { readonly type: 'boolean' | 'function' | 'object' | 'signal'; readonly optional?: boolean }
  | { readonly type: 'oneOf'; readonly values: readonly (string | number)[]; readonly optional?: boolean }
  /**
   * `numeric`: a number is meant (a port, a timeout that also takes `false`), so text given for it is shown only
   * when it reads as one, as for an `integer` rule.
   */
  | { readonly type: 'custom'; readonly expected: string; readonly check: (value: unknown) => boolean; readonly secret?: boolean; readonly numeric?: boolean; readonly optional?: boolean }
  /**
   * A listener map (`{ onConnect, onError }`) or an array of them: every key one of `keys`, every value a
   * function (or `undefined`). A bad entry is named in full: `events.onErorr`, `events[1].onError`.
   */
  | { readonly type: 'listeners'; readonly keys: readonly string[]; readonly optional?: boolean }

/**
 * A pool's name: a label that goes into every event, metric and error of the pool, so never a connection
 * string (a `DATABASE_URL` passed as the name by mistake would carry its password everywhere).
 */
export const poolNameRule = {
  type: 'custom',
  expected: 'a non-empty string of printable characters that is not a connection string (no `://`, `password=` or `user:password@`), at most 256 characters, none of them control, line-break, bidi or zero-width',
  // As strict as a request id: a name may come from a request (a tenant's pool) and goes into messages, events
  // and metric attributes as it is.
  check: (value: unknown) => typeof value === 'string' && value !== '' && value.length <= 256 && !unprintableInName.test(value) && !loneSurrogate.test(value) && !looksLikeCredentials(value),
} as const satisfies OptionRule

/**
 * True for text that holds credentials, or may: a connection string (`://`), libpq's keyword form
 * (`password=`), or `user:password@host`. Such a value given for a name, a host or a user would put its
 * password into targets, events and metrics as it is.
 *
 * @internal
 */
export function looksLikeCredentials(value: string): boolean {
  return value.includes('://') || holdsCredentials(value)
}

/**
 * True for text that holds credentials: a URL with a user part (`scheme://user:password@`), libpq's
 * `password=`, or `user:password@host`. A URL without them (`https://api.example.com`) holds none.
 *
 * @internal
 */
export function holdsCredentials(value: string): boolean {
  return /:\/\/[^/?#\s]*@/.test(value) || /\bpassword\s*=/i.test(value) || /^[^\s:@/]*:[^\s@/]*@/.test(value)
}

/**
 * True for text with a control character (a NUL, a newline): never valid in a name, a host or a user.
 *
 * @internal
 */
export function hasControlCharacter(value: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(value)
}

/** Rules for every accepted key of an option bag. */
export type OptionRules<T> = { readonly [K in keyof T]-?: OptionRule }

/**
 * Checks an option bag against its rules: rejects unknown keys, wrong types and out-of-range numbers.
 *
 * @param where - who takes the options, for the message (e.g. `createPostgresPool`)
 * @throws {InvalidOptionError} naming the option, the value and the allowed range
 * @example
 * validateOptions('createPool', options, { maxSize: { type: 'integer', min: 1 } })
 */
export function validateOptions<T extends object>(where: string, options: T | undefined, rules: OptionRules<T>): T {
  if (options === undefined) options = {} as T
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'an object', `Invalid options for ${where}: expected an object, got ${describeValue(options)}.`)
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(rules, key)) {
      const known = Object.keys(rules).map((k) => `\`${k}\``).join(', ')
      // A key is shown as a value is: a connection string spread into the options by mistake is one.
      const shown = shownText(key)
      throw new InvalidOptionError(shown, 'a known option', `Invalid options for ${where}: unknown option \`${shown}\`. Known options: ${known}.`)
    }
  }
  for (const [key, rule] of Object.entries(rules) as [string, OptionRule][]) {
    checkOption(where, key, (options as Record<string, unknown>)[key], rule)
  }
  return options
}

/**
 * Checks a single value against a rule.
 *
 * @throws {InvalidOptionError}
 */
export function checkOption(where: string, name: string, value: unknown, rule: OptionRule): void {
  if (value === undefined) {
    if (rule.optional) return
    fail(where, name, expectation(rule), value, rule)
  }
  if (rule.type === 'listeners') return checkListeners(where, name, value, rule.keys)
  if (!matches(value, rule)) fail(where, name, expectation(rule), value, rule)
}

/**
 * Whether a value passes a rule (an absent `optional` value does), without building an error: for a
 * quick check on a hot path that falls back to `checkOption` / `validateOptions` for the message.
 *
 * @example
 * if (!satisfiesRule(options.deadlineMillis, { type: 'duration', min: 1, optional: true })) validateOptions(...)
 */
export function satisfiesRule(value: unknown, rule: OptionRule): boolean {
  if (value === undefined) return rule.optional === true
  // A listener map is checked entry by entry, by `checkOption` only.
  return rule.type !== 'listeners' && matches(value, rule)
}

// Listener maps are checked entry by entry so that the error names the entry: a typo is otherwise never
// called, and a non-function would fail only when the event fires.
function checkListeners(where: string, name: string, value: unknown, keys: readonly string[]): void {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (!isMap(value) && !Array.isArray(value)) fail(where, name, listenersExpectation(keys), value)
  const maps: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`${name}[${i}]`, v]) : [[name, value]]
  for (const [path, map] of maps) {
    if (!isMap(map)) fail(where, path, 'an object of listeners', map)
    for (const [key, listener] of Object.entries(map)) {
      if (!keys.includes(key)) {
        const known = keys.map((k) => `\`${k}\``).join(', ')
        const shown = `${path}.${shownText(key)}`
        throw new InvalidOptionError(shown, 'a known listener', `Invalid options for ${where}: unknown listener \`${shown}\`. Known listeners: ${known}.`)
      }
      if (listener !== undefined && typeof listener !== 'function') fail(where, `${path}.${key}`, 'a function', listener)
    }
  }
}

function listenersExpectation(keys: readonly string[]): string {
  return `an object of listeners (${keys.map((k) => `\`${k}\``).join(', ')}) or an array of them`
}

/**
 * Throws an `InvalidOptionError` for a rule that spans several options (e.g. `minSize` <= `maxSize`).
 *
 * @throws {InvalidOptionError}
 */
export function rejectOption(where: string, name: string, expected: string, value: unknown): never {
  fail(where, name, expected, value)
}

function matches(value: unknown, rule: OptionRule): boolean {
  switch (rule.type) {
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || Number.isNaN(value)) return false
      if (rule.type === 'integer' && !Number.isInteger(value)) return false
      if (rule.type === 'number' && !Number.isFinite(value) && value !== Infinity) return false
      if (rule.min !== undefined && value < rule.min) return false
      return rule.max === undefined || value <= rule.max
    }
    case 'duration':
      return typeof value === 'number' && Number.isInteger(value) && value >= (rule.min ?? 0) && value <= MAX_TIMER_MILLIS
    case 'string':
      return typeof value === 'string' && (!rule.nonEmpty || value.length > 0)
    case 'boolean':
      return typeof value === 'boolean'
    case 'function':
      return typeof value === 'function'
    case 'object':
      return typeof value === 'object' && value !== null
    case 'signal':
      return isSignalLike(value)
    case 'oneOf':
      return rule.values.includes(value as string | number)
    case 'custom':
      return rule.check(value)
    case 'listeners':
      // Checked by `checkListeners`, which names the bad entry.
      return true
  }
}

// Duck-typed, so a signal from another realm or polyfill passes; what `OperationContext` calls must be there.
function isSignalLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const signal = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown }
  return typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function' && typeof signal.removeEventListener === 'function'
}

function expectation(rule: OptionRule): string {
  switch (rule.type) {
    case 'integer':
    case 'number': {
      const noun = rule.type === 'integer' ? 'an integer' : 'a number'
      if (rule.min !== undefined && rule.max !== undefined) return `${noun} between ${rule.min} and ${rule.max}`
      if (rule.min !== undefined) return `${noun} >= ${rule.min}`
      if (rule.max !== undefined) return `${noun} <= ${rule.max}`
      return noun
    }
    case 'duration':
      return `an integer number of milliseconds between ${rule.min ?? 0} and ${MAX_TIMER_MILLIS}`
    case 'string':
      return rule.nonEmpty ? 'a non-empty string' : 'a string'
    case 'boolean':
      return 'a boolean'
    case 'function':
      return 'a function'
    case 'object':
      return 'an object'
    case 'signal':
      return 'an AbortSignal'
    case 'oneOf':
      return `one of ${rule.values.map((v) => `\`${String(v)}\``).join(', ')}`
    case 'custom':
      return rule.expected
    case 'listeners':
      return listenersExpectation(rule.keys)
  }
}

function fail(where: string, name: string, expected: string, value: unknown, rule?: OptionRule): never {
  const secret = (rule?.type === 'string' || rule?.type === 'custom') && rule.secret === true
  // A secret of the wrong type (a numeric password) is still a secret: show only its type.
  const shown = secret && value !== undefined && value !== null ? `\`<redacted>\` (${typeof value})` : stringWhereNoneIsMeant(value, rule) ? `a string of ${value.length} characters` : describeValue(value)
  throw new InvalidOptionError(name, expected, `Invalid options for ${where}: expected \`${name}\` to be ${expected}, got ${shown}.`)
}

// A number or switch given as text is shown when it reads as one (`'5s'`, `'10'`, `'yes'`: the mistake to see);
// other text is not (`port: process.env.PGPASSWORD`, a variable mixed up, would show the password).
const numberOrSwitchText = /^\s*(?:[+-]?(?:\d[\d_]*)?(?:\.\d+)?(?:e[+-]?\d+)?\s*(?:ms|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?|true|false|yes|no|on|off|nan|[+-]?infinity)\s*$/i
function stringWhereNoneIsMeant(value: unknown, rule: OptionRule | undefined): value is string {
  const meant = rule?.type === 'integer' || rule?.type === 'number' || rule?.type === 'duration' || rule?.type === 'boolean' || (rule?.type === 'custom' && rule.numeric === true)
  if (!meant || typeof value !== 'string') return false
  return value.length > 40 || !numberOrSwitchText.test(value)
}

/**
 * @internal A string as a message shows it (a value, or an unknown option's key): without the credentials a
 * connection string carries, cut to 60 characters, and with what a log viewer misreads escaped (`\u2028`).
 */
export function shownText(value: string): string {
  // What a log viewer would misread (a line break, a change of direction) escaped: a name or key from a request
  // (a tenant's pool, say) would forge a log line through the message.
  return escapeUnprintable(redactedAndCut(value))
}

// `shownText` before its escaping: what `describeValue` quotes as JSON, which escapes control characters itself.
function redactedAndCut(value: string): string {
  // A connection string given by mistake (for a name, a prefix) keeps its password out of the message.
  // Redacted before it is cut for display: cut first, a long password lost its `@` and showed. The cut at
  // 64 kB only bounds the (linear) work for a huge value (a certificate given to the wrong option).
  let shown = redactText(value.length > 65_536 ? value.slice(0, 65_536) : value)
  // Credentials without a scheme (`user:password@host`, given as a host).
  if (!shown.includes('://')) shown = shown.replace(/^([^\s:@/]*):[^\s@]*@/, '$1:***@')
  // Credentials past what the search bounds (a token of hundreds of characters as the password) are not
  // found: a long value with a scheme in it shows no more than the scheme.
  const scheme = shown.indexOf('://')
  if (scheme !== -1 && shown.length > 512) shown = shown.slice(0, scheme + 3)
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown
}

/**
 * A name (a pool's, a key) as a message quotes it: shown as `shownText` shows it, and cut where it runs long.
 *
 * @internal
 */
export function shownName(name: string): string {
  const shown = shownText(name)
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown
}

/**
 * @internal Shows a value in a message without dumping objects (which might hold secrets): `` `5` (number) ``,
 * `` `"orders"` (string) ``, `` `Symbol(orders)` (symbol) ``, `an object`.
 */
export function describeValue(value: unknown): string {
  if (value === null) return '`null`'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string':
      // JSON escapes control characters; what a log viewer takes for a line break or a change of direction it
      // leaves as it is, and the value was refused for those (a forged log line).
      return `\`${escapeUnprintable(JSON.stringify(redactedAndCut(value)))}\` (string)`
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return `\`${String(value)}\` (${typeof value})`
    case 'function':
      return 'a function'
    case 'symbol': {
      const shown = redactText(value.toString())
      return `\`${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}\` (symbol)`
    }
    default:
      return 'an object'
  }
}
