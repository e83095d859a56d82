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
  // An IPv6 address in brackets, as in a URL: its port can then be told from it. A host list is left as is.
  const host = parts.host ?? 'localhost'
  const shown = host.includes(':') && !host.includes(',') && !host.startsWith('[') && !host.startsWith('/') ? `[${host}]` : host
  return `${parts.protocol}://${user}${shown}${port}${database}`
}

/**
 * Removes every given secret (passwords, full connection strings) from a text, any
 * `scheme://user:password@` credentials it finds, the value of any `...password=` parameter (a
 * connection string's query, libpq's `key=value` form, `tlsCertificateKeyFilePassword=`), and a quoted
 * `password` value in a config quoted whole (`{"password":"..."}`, `{ password: '...' }`).
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let result = text
  for (const secret of secrets) {
    if (secret.length >= 3) result = result.split(secret).join('***')
  }
  // The userinfo ends at the last `@` of the authority (a password may hold a raw `@`); failing that,
  // at the first `@` (a password may hold a raw `/`). Every part is bounded, so that each place a scheme
  // starts costs at most a few hundred steps: unbounded, the search for an `@` ran to the end of the text from
  // each of them, and a server's error quoting 50 kB of `x://y:` (a client's value) held the event loop for a
  // second. Credentials longer than that are left to the exact secrets above.
  return result
    .replace(/([a-z][a-z0-9+.-]{0,31}:\/\/[^:/@\s]{0,256}):(?:[^\s/?#]{0,512}@|[^@\s]{0,512}@)/gi, '$1:***@')
    // libpq takes spaces around `=`, and `\'` inside a quoted value.
    .replace(/\b([a-z_]*pass(?:word|wd)|pwd)\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s&;'"]*)/gi, '$1=***')
    // A config quoted whole in a message: `{"password":"..."}` (JSON), `{ password: '...' }` (util.inspect, which
    // quotes with backticks a string holding both quotes), `Map(1) { 'password' => '...' }`. Only a quoted value:
    // "password: must be a string" is a sentence, not a secret.
    .replace(/(["'`]?\b(?:[a-z_]*pass(?:word|wd)|pwd)["'`]?\s*(?::|=>)\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)/gi, (_, key: string, value: string) => `${key}${value[0]}***${value[0]}`)
}

/**
 * Returns an error safe to report: same class name, code and message with secrets removed, and the
 * cause chain redacted the same way. Driver errors can quote the connection string, also deep in the
 * server's reply or in what they hold (a `Map` of server descriptions, each with its own error). The
 * original is never changed; an error with nothing to remove is returned as it is.
 */
export function redactError(error: unknown, secrets: readonly string[] = []): Error {
  try {
    return redactIn(error, { secrets, seen: new Map(), budget: objectBudget }, fieldDepth)
  } catch {
    // Reading it threw (a getter, a revoked proxy, a message that is no string and cannot become one): what
    // could not be read cannot be shown safely. Reporting an error must never throw in the pool's path.
    return new Error(`${nameOf(error)} (its details could not be read, so they are left out)`)
  }
}

function nameOf(error: unknown): string {
  try {
    return error instanceof Error && typeof error.name === 'string' ? redactText(error.name) : 'Error'
  } catch {
    return 'Error'
  }
}

// How deep own fields are searched: a server's reply nests a dozen levels in a validation failure
// (`errorResponse.errInfo.details.schemaRulesNotSatisfied[0].propertiesNotSatisfied[0].details[0]...`).
// Deeper values are left as they are, so a huge or very deep object cannot make reporting an error slow.
const fieldDepth = 16

/**
 * One redaction: its secrets, every object met so far (so shared and cyclic values are copied once), and how
 * many more objects it may look into: an error holding a live object (a client, a socket) must not make
 * reporting it walk the whole graph behind that.
 */
interface Walk {
  readonly secrets: readonly string[]
  readonly seen: Map<object, Visit>
  budget: number
}

// Objects searched per redaction at most; past that, values are left as they are.
const objectBudget = 2000

/** An object being scrubbed (`done` false) or scrubbed; `copy` is made early when a cycle leads back to it. */
interface Visit {
  done: boolean
  result: unknown
  copy: object | undefined
}

function redactIn(error: unknown, walk: Walk, depth: number): Error {
  // A cause chain deeper than fields are searched is cut there: each step of it would be another frame.
  if (depth < 0) return new Error('(a cause nested too deep to be read)')
  if (!(error instanceof Error)) return new Error(redactText(String(error), walk.secrets))
  const visit = walk.seen.get(error)
  if (visit !== undefined) return (visit.done ? visit.result : (visit.copy ??= Object.create(Object.getPrototypeOf(error) as object))) as Error
  const own: Visit = { done: false, result: error, copy: undefined }
  walk.seen.set(error, own)
  const message = redactText(String(error.message), walk.secrets)
  // A non-Error cause (a string, an object) may quote a secret too: it is redacted into an Error.
  const cause = error.cause === undefined ? undefined : redactIn(error.cause, walk, depth - 1)
  // Own fields too, and what they hold: a driver keeps the server's reply (`errorResponse.errmsg`) there.
  const fields = scrubbedFields(error, walk, depth, errorOwnKeys)
  // The stack too: one a library wrote (it appended its cause's: `err.stack += '\nCaused by: ...'`) may quote what
  // the message does not. Read for every error reported (V8 formats it then), which nothing tells apart from its
  // own: Node 20 shows every stack as a plain value, Node 24 every one as an accessor, assigned or not.
  const stack = error.stack
  const redactedStack = stack ? redactText(String(stack), walk.secrets) : stack
  const same = message === error.message && cause === error.cause && redactedStack === stack && fields.every(unchanged)
  if (same && own.copy === undefined) return finish(own, error)
  // Same prototype, so `instanceof` and the class name survive.
  const copy = (own.copy ?? Object.create(Object.getPrototypeOf(error) as object)) as Error
  defineFields(copy, fields)
  Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true })
  if (cause !== undefined) Object.defineProperty(copy, 'cause', { value: cause, writable: true, configurable: true })
  if (redactedStack) Object.defineProperty(copy, 'stack', { value: redactedStack, writable: true, configurable: true })
  if (copy.name !== error.name) Object.defineProperty(copy, 'name', { value: error.name, writable: true, configurable: true })
  return finish(own, copy)
}

function finish<T>(visit: Visit, result: T): T {
  visit.done = true
  visit.result = result
  return result
}

// The value with every string in it redacted: the same value when nothing changed, else a copy. Arrays,
// Maps, Sets, plain objects and class instances (own fields, same prototype and property flags) are copied; errors
// are redacted like the top one; values whose state is internal (dates, buffers, promises) are left alone.
function scrubbed(value: unknown, walk: Walk, depth: number): unknown {
  if (typeof value === 'string') return redactText(value, walk.secrets)
  if (depth === 0 || typeof value !== 'object' || value === null || opaque(value)) return value
  if (value instanceof Error) return redactIn(value, walk, depth - 1)
  const visit = walk.seen.get(value)
  if (visit !== undefined) return visit.done ? visit.result : (visit.copy ??= emptyLike(value))
  if (walk.budget-- <= 0) return value
  const own: Visit = { done: false, result: value, copy: undefined }
  walk.seen.set(value, own)
  const next = depth - 1
  if (Array.isArray(value)) {
    const items = value.map((item) => scrubbed(item, walk, next))
    if (own.copy === undefined && items.every((item, i) => item === value[i])) return finish(own, value)
    const copy = (own.copy ?? emptyLike(value)) as unknown[]
    copy.push(...items)
    return finish(own, copy)
  }
  if (value instanceof Map) {
    const entries = [...value].map(([key, item]) => [scrubbed(key, walk, next), scrubbed(item, walk, next)] as const)
    if (own.copy === undefined && entries.every(([key, item]) => value.has(key) && value.get(key) === item)) return finish(own, value)
    const copy = (own.copy ?? emptyLike(value)) as Map<unknown, unknown>
    for (const [key, item] of entries) copy.set(key, item)
    return finish(own, copy)
  }
  if (value instanceof Set) {
    const items = [...value].map((item) => scrubbed(item, walk, next))
    if (own.copy === undefined && items.every((item) => value.has(item))) return finish(own, value)
    const copy = (own.copy ?? emptyLike(value)) as Set<unknown>
    for (const item of items) copy.add(item)
    return finish(own, copy)
  }
  const fields = scrubbedFields(value, walk, next, undefined)
  if (own.copy === undefined && fields.every(unchanged)) return finish(own, value)
  const copy = own.copy ?? emptyLike(value)
  defineFields(copy, fields)
  return finish(own, copy)
}

// What `redactIn` redacts and defines itself.
const errorOwnKeys: ReadonlySet<PropertyKey> = new Set(['message', 'cause', 'stack'])

/** An own property of a scrubbed object: its descriptor, and its value scrubbed (the same for an accessor). */
interface Field {
  readonly key: PropertyKey
  readonly descriptor: PropertyDescriptor
  readonly value: unknown
}

// Every own property, enumerable or not, symbols too: a driver keeps its raw reply on a non-enumerable one
// (`BulkWriteResult.result`), which methods return and `util.inspect(x, { showHidden: true })` shows.
// A hidden accessor is never called (a getter may be slow, throw or have effects): it is copied as it is.
function scrubbedFields(value: object, walk: Walk, depth: number, skip: ReadonlySet<PropertyKey> | undefined): Field[] {
  const fields: Field[] = []
  for (const key of Reflect.ownKeys(value)) {
    if (skip?.has(key) === true) continue
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    if (descriptor === undefined) continue
    if ('value' in descriptor) {
      fields.push({ key, descriptor, value: scrubbed(descriptor.value, walk, depth) })
    } else if (descriptor.enumerable === true) {
      // What `JSON.stringify` reads, such as Node's SystemError `path`, read once and copied as a plain field.
      const current: unknown = (value as Record<PropertyKey, unknown>)[key]
      fields.push({ key, descriptor: { value: current, enumerable: true, writable: true, configurable: true }, value: scrubbed(current, walk, depth) })
    } else {
      fields.push({ key, descriptor, value: undefined })
    }
  }
  return fields
}

function unchanged(field: Field): boolean {
  return !('value' in field.descriptor) || field.value === field.descriptor.value
}

// Each field with its own flags (enumerable, writable, configurable), so the copy looks and behaves as the original.
function defineFields(copy: object, fields: readonly Field[]): void {
  for (const { key, descriptor, value } of fields) Object.defineProperty(copy, key, 'value' in descriptor ? { ...descriptor, value } : descriptor)
}

// Objects whose content lives in internal slots: a copy of their own fields would not work, and they hold no
// text worth searching (a Buffer may be large).
function opaque(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp || value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet
}

// An empty object of the same kind and prototype, to fill with scrubbed content.
function emptyLike(value: object): object {
  const prototype = Object.getPrototypeOf(value) as object | null
  const empty = Array.isArray(value) ? [] : value instanceof Map ? new Map() : value instanceof Set ? new Set() : Object.create(prototype)
  if (Object.getPrototypeOf(empty) !== prototype) Object.setPrototypeOf(empty, prototype)
  return empty
}
