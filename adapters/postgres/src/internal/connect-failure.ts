// Classifies a failed connection attempt: worth retrying until the acquire deadline, or not.
import { LifeguardError } from '@lifeguard/core'
import { sqlStateOf } from './sql-state.js'

// SQLSTATE classes and codes that go away by themselves: connection exceptions (08), insufficient
// resources (53: too many connections), and "the server is starting up / shutting down" (57P0x).
const transientClasses = new Set(['08', '53'])
// 57P05 and 25P03: a server with idle_session_timeout (or the in-transaction one) ended a session the pool was
// still setting up; a new attempt is no refusal (seen under load with a timeout of 1 ms).
const transientCodes = new Set(['57P01', '57P02', '57P03', '57P05', '25P03'])

// TLS settings that do not fit the server: its certificate fails the client's checks (Node's codes), or it
// takes no TLS at all while the client requires it (pg's message). Retrying changes neither.
const tlsMismatchCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/**
 * True when the server answered with an error that waiting will not fix (bad password, no such database),
 * or the client's TLS settings do not fit the server.
 */
export function isPermanentConnectError(error: unknown, passwordFromFunction = false): error is Error {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && tlsMismatchCodes.has(code)) return true
  if (error.message === 'The server does not support SSL connections') return true
  // pg's own refusals while authenticating carry no SQLSTATE: no password given where the server asks for
  // one, a SCRAM exchange that fails. Settings, which another attempt does not change; unless the password
  // comes from a function, which is asked again at every attempt (a secrets cache filled meanwhile).
  if (code === undefined && pgAuthRefusal.test(error.message)) return !(passwordFromFunction && missingPassword.test(error.message))
  // A socket error (`EPIPE`, five letters too) is no answer from the server: worth another attempt.
  const sqlState = sqlStateOf(error)
  if (sqlState === undefined) return false
  if (sqlState === '08P01' && poolerRefusal.test(error.message)) return true
  return !transientClasses.has(sqlState.slice(0, 2)) && !transientCodes.has(sqlState)
}

const pgAuthRefusal = /^SASL: |client password must be a (non-empty )?string|^Password must be a string/
// What pg says when the password it got is missing or empty (a function that gave nothing); a function that
// gave something other than a string says "Password must be a string": a mistake, which fails at once.
const missingPassword = /client password must be a (non-empty )?string/

// PgBouncer answers every refusal with 08P01 (protocol violation), the ones that pass ("pgbouncer cannot connect
// to server", "server login has been failing", "no more connections allowed") and the ones that do not: these,
// by its wording, which it has kept across versions.
const poolerRefusal = /^(no such database|no such user|password authentication failed|SASL authentication failed|unsupported startup parameter|not allowed)\b/

/** pg's own connect-timeout message says neither what timed out nor after how long. */
export function describeConnectFailure(error: unknown, connectTimeoutMillis: number): unknown {
  if (error instanceof Error && /^timeout expired$|connection timeout/i.test(error.message)) {
    return new LifeguardError('ERR_CONNECT_TIMEOUT', `Connection attempt timed out after ${connectTimeoutMillis}ms (connectTimeoutMillis).`, { cause: error })
  }
  return error
}
