import { MAX_TIMER_MILLIS, satisfiesRule, type OptionRule } from '../options.js'

const pressureCodes = new Set(['ERR_POOL_EXHAUSTED', 'ERR_POOL_TIMEOUT'])

/**
 * The code of a pool-pressure error (`PoolExhaustedError`, `PoolTimeoutError`, or an `OperationAbortedError`
 * whose deadline passed while it waited for a connection), looked for in the error and its causes (a service
 * factory may wrap it), or `undefined`. Compared by `code`, not `instanceof`, so two installed copies of core
 * still match. A client that went away while waiting is no pool pressure: nobody reads that answer.
 *
 * @example
 * const code = poolPressureCode(error) // 'ERR_POOL_TIMEOUT'
 */
export function poolPressureCode(error: unknown): string | undefined {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && pressureCodes.has(code)) return code
    if (code === 'ERR_OPERATION_ABORTED' && isDeadlineInQueue(current)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

// With a deadline set under `acquireTimeoutMillis` (10 s by default), a busy pool's waiters end by their deadline
// rather than by a PoolTimeoutError: the same overload.
function isDeadlineInQueue(error: object): boolean {
  const { queued, cause } = error as { queued?: unknown; cause?: unknown }
  return queued === true && typeof cause === 'object' && cause !== null && (cause as { name?: unknown }).name === 'TimeoutError'
}

/**
 * The JSON body of a 503 caused by pool pressure: the code only, never the pool's name or target.
 *
 * @example
 * res.status(503).json(poolPressureBody('ERR_POOL_EXHAUSTED'))
 */
export function poolPressureBody(code: string): { error: { code: string; message: string } } {
  return { error: { code, message: 'The service is busy. Retry later.' } }
}

// What described the body the handler was producing: its encoding, length, range, validators and caching, and
// where it lives. Kept on a 503 that replaces that body, they would make it undecodable (`Content-Encoding:
// gzip` on plain JSON), misframed (a `Content-Length` of the old body) or cached for as long as the old one.
const replacedBodyHeaders = new Set(['etag', 'last-modified', 'cache-control', 'expires', 'age', 'location', 'transfer-encoding', 'trailer'])

/**
 * True for a response header that describes the body a handler was producing (`Content-*` but
 * `Content-Security-Policy`, `ETag`, `Last-Modified`, `Cache-Control`, `Expires`, `Location`, ...): the 503 that
 * replaces that body drops it. Any other header (CORS, cookies, the request id) stays. `name` in lower case.
 *
 * @example
 * for (const name of res.getHeaderNames()) if (describesReplacedBody(name)) res.removeHeader(name)
 */
export function describesReplacedBody(name: string): boolean {
  return (name.startsWith('content-') && name !== 'content-security-policy') || replacedBodyHeaders.has(name)
}

/** Options of the 503 answer to pool pressure (a middleware's `mapErrors`). */
export interface MapErrorsOptions {
  /** The `Retry-After` header of the 503, in seconds. Default 1. */
  retryAfterSeconds?: number | undefined
}

/**
 * The rule of a `Retry-After` in seconds: a whole number that prints as one (`1e+21` is no delay-seconds),
 * capped where HTTP caches cap delta-seconds (2^31-1).
 */
export const retryAfterSecondsRule: OptionRule = { type: 'integer', min: 0, max: MAX_TIMER_MILLIS, optional: true }

/** The rule of a `mapErrors` option: `true`/`false` or `{ retryAfterSeconds }`, the range in its message. */
export const mapErrorsRule: OptionRule = {
  type: 'custom',
  expected: `a boolean or { retryAfterSeconds: an integer between 0 and ${MAX_TIMER_MILLIS} }`,
  optional: true,
  check: (value: unknown) => {
    if (typeof value === 'boolean') return true
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.keys(value).every((key) => key === 'retryAfterSeconds')) return false
    return satisfiesRule((value as { retryAfterSeconds?: unknown }).retryAfterSeconds, retryAfterSecondsRule)
  },
}

/**
 * The `Retry-After` value a `mapErrors` option asks for, or `undefined` when errors are not mapped.
 *
 * @example
 * retryAfterFrom({ retryAfterSeconds: 7 }) // '7'
 */
export function retryAfterFrom(mapErrors: boolean | MapErrorsOptions | undefined): string | undefined {
  if (mapErrors === undefined || mapErrors === false) return undefined
  return String((mapErrors === true ? undefined : mapErrors.retryAfterSeconds) ?? 1)
}
