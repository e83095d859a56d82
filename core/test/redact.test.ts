import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { inspect } from 'node:util'
import { PoolTimeoutError } from '../src/index.js'
import { formatTarget, redactConnectionString, redactError, redactText } from '../src/adapter.js'

const password = 'Tr0ub4dor-and-3'

const connectionString = suite('redactConnectionString')

connectionString('removes the password and keeps user, host, port and database', () => {
  assert.is(redactConnectionString(`postgres://app:${password}@db:5432/orders`), 'postgres://app@db:5432/orders')
  assert.is(redactConnectionString(`mongodb+srv://app:${password}@cluster0.example.net/shop`), 'mongodb+srv://app@cluster0.example.net/shop')
})

connectionString('drops query parameters, which may carry credentials', () => {
  const redacted = redactConnectionString(`postgres://app@db:5432/orders?sslmode=require&password=${password}&sslkey=/keys/app.key`)
  assert.is(redacted, 'postgres://app@db:5432/orders')
})

connectionString('never leaks a password that holds URL delimiters', () => {
  for (const raw of [`postgres://app:p@ss-${password}@db:5432/orders`, `postgres://app:${password}#frag@db/orders`, `postgres://app:a/${password}@db/orders`]) {
    const redacted = redactConnectionString(raw)
    assert.not.match(redacted, password, raw)
  }
})

connectionString('keeps only the harmless keys of a key=value string', () => {
  const redacted = redactConnectionString(`host=db port=5432 user=app password=${password} dbname=orders sslpassword=${password}`)
  assert.is(redacted, 'host=db port=5432 user=app dbname=orders')
})

connectionString('returns a placeholder when nothing harmless is left', () => {
  assert.is(redactConnectionString(password), '<redacted>')
  assert.is(redactConnectionString(''), '<redacted>')
})

connectionString('handles URLs without user or database', () => {
  assert.is(redactConnectionString('postgres://db:5432'), 'postgres://db:5432')
  assert.is(redactConnectionString('postgres://db:5432/'), 'postgres://db:5432')
})

const target = suite('formatTarget')

target('builds protocol://user@host:port/database without any password', () => {
  assert.is(formatTarget({ protocol: 'postgres', user: 'app', host: 'db', port: 5432, database: 'orders' }), 'postgres://app@db:5432/orders')
})

target('defaults the host, omits what is missing and encodes the user', () => {
  assert.is(formatTarget({ protocol: 'postgres' }), 'postgres://localhost')
  assert.is(formatTarget({ protocol: 'mongodb', host: 'mongo', port: '', database: 'shop' }), 'mongodb://mongo/shop')
  assert.is(formatTarget({ protocol: 'postgres', user: 'app@corp', host: 'db', port: '6432' }), 'postgres://app%40corp@db:6432')
})

const odd = suite('redactError on errors that fight back')

odd('an error whose reading throws, or whose message is no string, or whose causes nest without end, gives an error, never a throw', () => {
  const numeric = Object.assign(new Error('x'), { message: 42 as unknown as string })
  const getter = new Error('x')
  Object.defineProperty(getter, 'detail', { get: () => { throw new Error('getter threw') }, enumerable: true })
  const revoked = Proxy.revocable(new Error('x'), {})
  revoked.revoke()
  let deep: Error = new Error('root password=hunter2')
  for (let i = 0; i < 10_000; i++) deep = new Error(`level ${i}`, { cause: deep })
  for (const [label, error] of [['numeric message', numeric], ['throwing getter', getter], ['revoked proxy', revoked.proxy], ['10,000 causes', deep]] as const) {
    let safe: Error | undefined
    try {
      safe = redactError(error, ['hunter2'])
    } catch (thrown) {
      assert.unreachable(`${label} threw ${String(thrown)}`)
    }
    assert.instance(safe, Error, label)
    assert.not.match(JSON.stringify({ m: safe?.message, c: String((safe as { cause?: unknown }).cause) }), 'hunter2', label)
  }
})

odd.run()

const text = suite('redactText')

text("a text that a client controls (a server's error quoting a value) is searched in linear time", () => {
  // Every `x://y:` is a place a credential might start, none ends with an `@`: each search ran to the end of the
  // text, 3 s for 100 kB, 50 s for 400 kB. Linear, 400 kB takes about 0.2 s.
  const started = performance.now()
  const hostile = 'ab://x:'.repeat(400_000 / 7)
  assert.is(redactText(hostile), hostile)
  assert.ok(performance.now() - started < 10_000, `took ${Math.round(performance.now() - started)} ms`)
  // Credentials are still found as before: a raw `@` or `/` in the password.
  assert.is(redactText('postgres://app:p@ss@db/x and mongodb://u:a/b@h/db'), 'postgres://app:***@db/x and mongodb://u:***@h/db')
})

text('removes every given secret', () => {
  const redacted = redactText(`auth failed for ${password}; retried with ${password}`, [password])
  assert.is(redacted, 'auth failed for ***; retried with ***')
})

text('ignores secrets too short to remove safely', () => {
  assert.is(redactText('a b c', ['a', '']), 'a b c')
})

text('removes credentials of any URL in the text, even without a secrets list', () => {
  const redacted = redactText(`could not connect to postgres://app:${password}@db:5432/orders (timeout)`)
  assert.is(redacted, 'could not connect to postgres://app:***@db:5432/orders (timeout)')
  assert.is(redactText(`mongodb://root:${password}@a:27017,b:27017/admin`), 'mongodb://root:***@a:27017,b:27017/admin')
})

text('removes the value of a password parameter: in a query, and in the key=value form', () => {
  assert.is(redactText(`postgres://db/orders?sslmode=require&password=${password}&x=1`), 'postgres://db/orders?sslmode=require&password=***&x=1')
  assert.is(redactText(`host=db user=app password=${password} dbname=orders`), 'host=db user=app password=*** dbname=orders')
  assert.is(redactText(`host=db password='${password} x' port=5432`), 'host=db password=*** port=5432')
  assert.is(redactText(`mongodb://db/?tlsCertificateKeyFilePassword=${password}`), 'mongodb://db/?tlsCertificateKeyFilePassword=***')
  assert.is(redactText('passes=3 compass=north'), 'passes=3 compass=north')
})

text("removes a key=value password written with spaces around `=`, and one quoted with libpq's \\' inside", () => {
  // Before: `password = ...` was left whole, and a quoted value was cut at its escaped quote, the rest shown.
  assert.is(redactText(`host=db password = ${password} user=app`), 'host=db password=*** user=app')
  assert.is(redactText(`host=db password=${password} user=app`), 'host=db password=*** user=app')
  assert.is(redactText(`host=db password='it\\'s-${password}' user=app`), 'host=db password=*** user=app')
  assert.not.match(redactText(`sslpassword ='${password}'`), password)
})

text('removes a password holding a raw @ or / completely', () => {
  const withAt = redactText(`postgres://app:p@ss@${password}@db:5432/orders failed`)
  assert.is(withAt, 'postgres://app:***@db:5432/orders failed')
  const withSlash = redactText(`postgres://app:a/${password}@db/orders failed`)
  assert.not.match(withSlash, password)
  assert.match(withSlash, 'postgres://app:***@db/orders')
})

text('leaves text without secrets unchanged', () => {
  assert.is(redactText('connect ECONNREFUSED 127.0.0.1:5432', [password]), 'connect ECONNREFUSED 127.0.0.1:5432')
  assert.is(redactText('see https://example.com/docs and user@example.com'), 'see https://example.com/docs and user@example.com')
})

const error = suite('redactError')

error('keeps the class, name and code of an error it has to copy', () => {
  const original = new PoolTimeoutError('orders', 50, { cause: new Error(`connect to postgres://app:${password}@db failed`) })
  const safe = redactError(original, [password])
  assert.instance(safe, PoolTimeoutError)
  assert.is(safe.name, 'PoolTimeoutError')
  assert.is((safe as PoolTimeoutError).code, 'ERR_POOL_TIMEOUT')
  assert.is(safe.message, original.message)
  assert.not.ok(inspect(safe, { depth: 5 }).includes(password))
})

error('returns a copy without the secret, keeping name, code and the stack', () => {
  const original = Object.assign(new Error(`password authentication failed for "${password}"`), { code: '28P01' })
  original.name = 'DatabaseError'
  const safe = redactError(original, [password])
  assert.is.not(safe, original)
  assert.is(safe.name, 'DatabaseError')
  assert.is((safe as Error & { code?: string }).code, '28P01')
  assert.is(safe.message, 'password authentication failed for "***"')
  assert.ok(safe.stack)
  assert.not.match(safe.stack ?? '', password)
  assert.not.match(inspect(safe), password)
})

error('redacts a secret that only its stack quotes (a library that appended its cause there)', () => {
  const original = new Error('connect failed')
  original.stack = `Error: connect failed\n    at connect (db.js:1:1)\nCaused by: Error: could not reach postgres://app:${password}@db/orders`
  const safe = redactError(original)
  // Before: the message was clean, so the error came back as it was, its stack and password with it.
  assert.is.not(safe, original)
  assert.not.match(safe.stack ?? '', password)
  assert.match(safe.stack ?? '', 'postgres://app:***@db/orders')
  assert.is(safe.message, 'connect failed')
  assert.match(original.stack, password, 'the original is left as it was')
})

error('redacts the whole cause chain', () => {
  const root = new Error(`connect to postgres://app:${password}@db/orders failed`)
  const middle = new Error('pool error', { cause: root })
  const safe = redactError(new Error('warmup failed', { cause: middle }))
  assert.not.match(inspect(safe, { depth: 10 }), password)
  assert.is((safe.cause as Error).message, 'pool error')
  assert.is(((safe.cause as Error).cause as Error).message, 'connect to postgres://app:***@db/orders failed')
})

error('redacts a cause that is not an Error', () => {
  const safe = redactError(new Error('connect failed', { cause: `postgres://app:${password}@db/orders` }), [password])
  assert.not.match(inspect(safe, { depth: 10 }), password)
  assert.instance(safe.cause, Error)
})

error('returns the same error when there is nothing to remove', () => {
  const original = new Error('connect ECONNREFUSED 127.0.0.1:5432')
  assert.is(redactError(original, [password]), original)
})

error("redacts what the error's own fields hold, a server's nested reply included", () => {
  // A driver error whose message is clean, with the server's reply quoting the secret a level down.
  const reply = { ok: 0, errmsg: `auth failed for app:${password}`, errInfo: { details: [`user app:${password}`] } }
  const original = Object.assign(new Error('Authentication failed.'), { code: 18, errorResponse: reply })
  const safe = redactError(original, [password])
  assert.is.not(safe, original)
  assert.not.match(inspect(safe, { depth: 10 }), password)
  assert.is((safe as unknown as { errorResponse: typeof reply }).errorResponse.errmsg, 'auth failed for app:***')
  assert.is(reply.errmsg, `auth failed for app:${password}`, 'the original is left as it was')
  const clean = Object.assign(new Error('Authentication failed.'), { errorResponse: { ok: 0, errmsg: 'no such user' } })
  assert.is(redactError(clean, [password]), clean)
})

error('redacts what a Map and a class instance hold, keeping their prototype and leaving the original as it was', () => {
  // The shape of the driver's MongoServerSelectionError: `reason` is a TopologyDescription whose `servers`
  // Map holds ServerDescriptions, each with the error that quoted the server's message.
  class ServerDescription {
    constructor(
      readonly address: string,
      readonly error: Error | null,
    ) {}
    get isReadable(): boolean {
      return this.error === null
    }
  }
  class TopologyDescription {
    readonly servers = new Map<string, ServerDescription>()
  }
  const reason = new TopologyDescription()
  const serverError = Object.assign(new Error(`auth failed for mongodb://app:${password}@db:27017/shop`), { code: 18 })
  reason.servers.set('db:27017', new ServerDescription('db:27017', serverError))
  reason.servers.set('db2:27017', new ServerDescription('db2:27017', null))
  const original = Object.assign(new Error('Server selection timed out after 30000 ms'), { reason })
  const safe = redactError(original, [password]) as typeof original
  assert.is.not(safe, original)
  assert.not.match(inspect(safe, { depth: 20 }), password)
  assert.instance(safe.reason, TopologyDescription)
  assert.instance(safe.reason.servers, Map)
  const described = safe.reason.servers.get('db:27017')
  assert.instance(described, ServerDescription)
  assert.is(described?.isReadable, false, 'getters of the prototype still work')
  assert.is(described?.error?.message, 'auth failed for mongodb://app:***@db:27017/shop')
  assert.is((described?.error as Error & { code?: number }).code, 18)
  assert.is(safe.reason.servers.get('db2:27017'), reason.servers.get('db2:27017'), 'what holds no secret is shared, not copied')
  assert.is(serverError.message, `auth failed for mongodb://app:${password}@db:27017/shop`, 'the original is left as it was')
  assert.is(original.reason, reason)
  const clean = Object.assign(new Error('Server selection timed out'), { reason: new TopologyDescription() })
  assert.is(redactError(clean, [password]), clean)
})

error("redacts a server's reply quoting the secret a dozen levels deep", () => {
  // A DocumentValidationFailure's errInfo nests the offending value this deep.
  const errInfo = { details: { schemaRulesNotSatisfied: [{ propertiesNotSatisfied: [{ details: [{ consideredValue: `mongodb://app:${password}@db/shop` }] }] }] } }
  const original = Object.assign(new Error('Document failed validation'), { code: 121, errInfo, errorResponse: { ok: 0, code: 121, errInfo } })
  const safe = redactError(original, [password])
  assert.is.not(safe, original)
  assert.not.match(JSON.stringify(safe), password)
  assert.match(JSON.stringify(safe), 'mongodb://app:***@db/shop')
  assert.match(JSON.stringify(original), password, 'the original is left as it was')
})

error('stays bounded on cyclic and very deep values', () => {
  const node: Record<string, unknown> = { note: `app:${password}` }
  node['self'] = node
  const original = Object.assign(new Error('failed'), { node })
  original.cause = original
  const safe = redactError(original, [password]) as typeof original
  assert.not.match(inspect(safe, { depth: 6 }), password)
  assert.is((safe.node as Record<string, unknown>)['self'], safe.node, 'a cycle stays a cycle, in the copy')
  assert.is(safe.cause, safe)
  // Beyond the depth bound a value is left as it is rather than walked forever.
  let deep: Record<string, unknown> = { leaf: 'x' }
  for (let i = 0; i < 10_000; i++) deep = { deep }
  const unbounded = Object.assign(new Error('failed'), { deep })
  assert.is(redactError(unbounded, [password]), unbounded)
})

error('redacts non-enumerable own fields too, keeping their flags, and never calls a hidden accessor', () => {
  // The shape of the driver's MongoBulkWriteError: its `result` (a BulkWriteResult) keeps the raw bulk result
  // on a non-enumerable `result`, which `getWriteErrors()` reads; `writeErrors` shares its WriteErrors.
  class WriteError {
    constructor(readonly err: { index: number; errmsg: string }) {}
    get errmsg(): string {
      return this.err.errmsg
    }
  }
  class BulkWriteResult {
    declare readonly result: { writeErrors: WriteError[] }
    constructor(result: { writeErrors: WriteError[] }) {
      Object.defineProperty(this, 'result', { value: result, enumerable: false, writable: true, configurable: true })
    }
    getWriteErrors(): WriteError[] {
      return this.result.writeErrors
    }
  }
  const writeError = new WriteError({ index: 0, errmsg: `E11000 duplicate key: { password: "${password}" }` })
  const result = new BulkWriteResult({ writeErrors: [writeError] })
  const hidden = Symbol('hidden')
  let getterCalls = 0
  const original = Object.assign(new Error('write failed'), { writeErrors: [writeError], result })
  Object.defineProperty(original, hidden, { value: { note: `app:${password}` }, enumerable: false, writable: false, configurable: false })
  Object.defineProperty(original, 'lazy', { get: () => ++getterCalls, enumerable: false, configurable: true })
  // An enumerable accessor is what JSON.stringify reads (as Node's SystemError `path`): read, and redacted.
  Object.defineProperty(original, 'path', { get: () => `/run/app:${password}`, enumerable: true, configurable: true })
  const safe = redactError(original, [password]) as typeof original
  assert.is.not(safe, original)
  assert.not.match(inspect(safe, { depth: Infinity, showHidden: true }), password)
  assert.instance(safe.result, BulkWriteResult)
  assert.is(safe.result.getWriteErrors()[0]?.errmsg, 'E11000 duplicate key: { password: "***" }')
  assert.is(safe.result.getWriteErrors()[0], safe.writeErrors[0], 'what the original shares, the copy shares')
  assert.equal(Object.getOwnPropertyDescriptor(safe.result, 'result'), { ...Object.getOwnPropertyDescriptor(result, 'result'), value: safe.result.result }, 'same flags')
  assert.equal(Object.keys(safe.result), [], 'still not enumerable')
  const symbolField = Object.getOwnPropertyDescriptor(safe, hidden)
  assert.equal(symbolField, { value: { note: 'app:***' }, enumerable: false, writable: false, configurable: false })
  assert.is(getterCalls, 0, 'a hidden accessor is never called')
  assert.is(Object.getOwnPropertyDescriptor(safe, 'lazy')?.get, Object.getOwnPropertyDescriptor(original, 'lazy')?.get, 'a hidden accessor is copied as it is')
  assert.is((safe as unknown as { path: string }).path, '/run/app:***')
  assert.not.match(JSON.stringify(safe), password)
  assert.is(result.getWriteErrors()[0]?.errmsg, `E11000 duplicate key: { password: "${password}" }`, 'the original is left as it was')
  const clean = Object.assign(new Error('write failed'), { result: new BulkWriteResult({ writeErrors: [] }) })
  assert.is(redactError(clean, [password]), clean)
})

error('turns a thrown non-Error into a redacted Error', () => {
  const safe = redactError(`fatal: postgres://app:${password}@db/orders`)
  assert.instance(safe, Error)
  assert.is(safe.message, 'fatal: postgres://app:***@db/orders')
  assert.is(redactError(42).message, '42')
})

connectionString.run()
target.run()
text('a password quoted in a config printed whole (JSON, util.inspect) is removed; a sentence about one is kept', () => {
  const config = { host: 'db', user: 'app', password: 'hunter2' }
  const printedForms = [
    JSON.stringify(config),
    inspect(config),
    `bad config ${JSON.stringify({ db: { dbPassword: 'x"y\\"z' } })}`,
    inspect({ password: 'hunter2\'s "pw"' }),
    inspect(new Map([['password', 'hunter2']])),
  ]
  for (const printed of printedForms) {
    const redacted = redactText(printed)
    assert.not.match(redacted, 'hunter2', printed)
    assert.not.match(redacted, 'x\\"z', printed)
    assert.match(redacted, /["'`]\*\*\*["'`]/)
  }
  assert.match(redactText(JSON.stringify(config)), '"host":"db"')
  // Not a secret: the value is no quoted string.
  assert.is(redactText('password: must be a string of 1 to 99 characters'), 'password: must be a string of 1 to 99 characters')
})
text.run()
error('an error holding a large live object graph is reported quickly: the search is bounded', () => {
  // A client with thousands of connection records, each one object: only so many are searched.
  const client = { connections: Array.from({ length: 50_000 }, (_, id) => ({ id, note: 'postgres://app:s3cret@db' })) }
  const error = Object.assign(new Error('failed: postgres://app:s3cret@db'), { client })
  const safe = redactError(error, ['s3cret'])
  assert.is(safe.message, 'failed: postgres://app:***@db')
  assert.is(error.message, 'failed: postgres://app:s3cret@db', 'the original is untouched')
})

error.run()
