// Classifies a failed connection attempt: worth retrying until the acquire deadline, or not.

// SQLSTATE classes and codes that go away by themselves: connection exceptions (08), insufficient
// resources (53: too many connections), and "the server is starting up / shutting down" (57P0x).
const transientClasses = new Set(['08', '53'])
const transientCodes = new Set(['57P01', '57P02', '57P03'])

/** True when the server itself answered with an error that waiting will not fix (bad password, no such database). */
export function isPermanentConnectError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false
  return !transientClasses.has(code.slice(0, 2)) && !transientCodes.has(code)
}

/** pg's own connect-timeout message says neither what timed out nor after how long. */
export function describeConnectFailure(error: unknown, connectTimeoutMillis: number): unknown {
  if (error instanceof Error && /^timeout expired$|connection timeout/i.test(error.message)) {
    return new Error(`Connection attempt timed out after ${connectTimeoutMillis}ms (connectTimeoutMillis).`, { cause: error })
  }
  return error
}
