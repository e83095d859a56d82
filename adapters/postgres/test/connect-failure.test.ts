import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresConnectError } from '../src/index.js'
import { isPermanentConnectError } from '../src/internal/connect-failure.js'

// Which failed connection attempts are worth another try before the acquire deadline.
const test = suite('connect failures: a refusal or worth retrying')

const serverError = (code: string): Error => Object.assign(new Error(`server said ${code}`), { code, severity: 'FATAL' })

test('refusals waiting will not fix: bad credentials, an unknown database, a role that may not log in', () => {
  for (const code of ['28P01', '28000', '3D000']) assert.ok(isPermanentConnectError(serverError(code)), code)
})

test('what goes away by itself: a server starting or stopping, too many connections, a session ended by an idle timeout', () => {
  // 57P05 and 25P03 end a session the pool may still be setting up (a server with idle_session_timeout):
  // taken for refusals, they failed the waiting query with PostgresConnectError under load.
  for (const code of ['57P01', '57P02', '57P03', '57P05', '25P03', '53300', '08006']) assert.not.ok(isPermanentConnectError(serverError(code)), code)
  assert.not.ok(isPermanentConnectError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })))
  // Five letters like a SQLSTATE, but a socket's: the server closing it while the session started.
  for (const code of ['EPIPE', 'EPERM']) assert.not.ok(isPermanentConnectError(Object.assign(new Error(`write ${code}`), { code })), code)
})

test("pg's own refusals while authenticating, which carry no SQLSTATE: no password where the server asks for one", () => {
  for (const message of ['SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string', 'SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match', 'client password must be a string']) {
    assert.ok(isPermanentConnectError(new Error(message)), message)
  }
  assert.ok(isPermanentConnectError(new Error('Password must be a string')))
  // A password function that failed, or gave nothing, may succeed next time (a secrets store back up, a cache
  // filled meanwhile): it is asked again at every attempt, so that is no refusal.
  assert.not.ok(isPermanentConnectError(new Error('vault unreachable')))
  assert.not.ok(isPermanentConnectError(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), true))
  assert.not.ok(isPermanentConnectError(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string'), true))
  // A function that gave something other than a string (a number, an object): a mistake, refused at once.
  assert.ok(isPermanentConnectError(new Error('Password must be a string'), true))
  assert.ok(isPermanentConnectError(new Error('SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match'), true))
})

test('PostgresConnectError says the server refused only when the server answered with a refusal', () => {
  const refused = new PostgresConnectError('orders', 'postgres://app@db:5432/orders', serverError('28P01'))
  assert.is(refused.message, "Could not connect pool 'orders' to postgres://app@db:5432/orders. The server refused: server said 28P01.")
  assert.is(refused.sqlState, '28P01')
  // pg's own: the server asked for a password and the pool has none.
  const unset = new PostgresConnectError('orders', 'postgres://app@db:5432/orders', new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'))
  assert.is(unset.message, "Could not connect pool 'orders' to postgres://app@db:5432/orders. The connection could not be set up: SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string.")
  assert.is(unset.sqlState, undefined)
  // TLS that does not fit the server: Node's code is no SQLSTATE, and the server refused nothing.
  const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })
  assert.ok(isPermanentConnectError(tls))
  const mismatch = new PostgresConnectError('orders', 'postgres://app@db:5432/orders', tls)
  assert.is(mismatch.sqlState, undefined)
  assert.is(mismatch.message, "Could not connect pool 'orders' to postgres://app@db:5432/orders. The connection could not be set up: self-signed certificate.")
})

test("PgBouncer's refusals, all 08P01: by its wording, the lasting ones from the ones that pass", () => {
  const bouncer = (message: string): Error => Object.assign(new Error(message), { code: '08P01', severity: 'FATAL' })
  for (const message of ['no such database: nodb', 'no such user: app', 'password authentication failed', 'SASL authentication failed', 'unsupported startup parameter: statement_timeout']) {
    assert.ok(isPermanentConnectError(bouncer(message)), message)
  }
  for (const message of ['pgbouncer cannot connect to server', 'server login has been failing, try again later (server_login_retry)', 'no more connections allowed (max_client_conn)', 'query_wait_timeout']) {
    assert.not.ok(isPermanentConnectError(bouncer(message)), message)
  }
})

test.run()
