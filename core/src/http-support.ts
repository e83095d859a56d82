import { randomUUID } from 'node:crypto'
import type { OptionRule } from './options.js'

// Framework-agnostic pieces every HTTP adapter needs, kept once here so Express, Koa and Hono behave
// alike. Nothing in this file knows a framework.

// A caller's id is trusted only when it cannot smuggle anything into logs or headers.
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The caller's request id when it is sane (1-128 of `[A-Za-z0-9._:-]`), else a new random UUID.
 *
 * @example
 * const requestId = requestIdFrom(req.headers['x-request-id'])
 */
export function requestIdFrom(value: string | string[] | undefined | null): string {
  return typeof value === 'string' && saneRequestId.test(value) ? value : randomUUID()
}

const pressureCodes = new Set(['ERR_POOL_EXHAUSTED', 'ERR_POOL_TIMEOUT'])

/**
 * The code of a pool-pressure error (`PoolExhaustedError`, `PoolTimeoutError`), looked for in the error and
 * its causes (a service factory may wrap it), or `undefined`. Compared by `code`, not `instanceof`, so two
 * installed copies of core still match.
 */
export function poolPressureCode(error: unknown): string | undefined {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && pressureCodes.has(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** The JSON body of a 503 caused by pool pressure: the code only, never the pool's name or target. */
export function poolPressureBody(code: string): { error: { code: string; message: string } } {
  return { error: { code, message: 'The service is busy. Retry later.' } }
}

const headerToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Validation rules of the options every HTTP middleware shares (`container`, `handlerName`, ...). */
export const middlewareOptionRules = {
  container: {
    type: 'custom',
    expected: 'a ServiceContainer (from createServiceContainer())',
    check: (value: unknown) => typeof value === 'object' && value !== null && typeof (value as { createScope?: unknown }).createScope === 'function',
  },
  handlerName: { type: 'string', nonEmpty: true, optional: true },
  operationName: { type: 'function', optional: true },
  requestIdHeader: { type: 'custom', expected: 'an HTTP header name', check: (value: unknown) => typeof value === 'string' && headerToken.test(value), optional: true },
  deadlineMillis: { type: 'integer', min: 1, optional: true },
} as const satisfies Record<string, OptionRule>

/** The rule of a `mapErrors` option: `true`/`false` or `{ retryAfterSeconds }`. */
export const mapErrorsRule: OptionRule = {
  type: 'custom',
  expected: 'a boolean or { retryAfterSeconds }',
  optional: true,
  check: (value: unknown) => {
    if (typeof value === 'boolean') return true
    if (typeof value !== 'object' || value === null) return false
    const seconds = (value as { retryAfterSeconds?: unknown }).retryAfterSeconds
    return Object.keys(value).every((key) => key === 'retryAfterSeconds') && (seconds === undefined || (Number.isInteger(seconds) && (seconds as number) >= 0))
  },
}

/** The `Retry-After` value a `mapErrors` option asks for, or `undefined` when errors are not mapped. */
export function retryAfterFrom(mapErrors: boolean | { retryAfterSeconds?: number | undefined } | undefined): string | undefined {
  if (mapErrors === undefined || mapErrors === false) return undefined
  return String((mapErrors === true ? undefined : mapErrors.retryAfterSeconds) ?? 1)
}
