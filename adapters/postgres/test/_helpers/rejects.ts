import * as assert from 'uvu/assert'

/**
 * Awaits a promise that must reject with `ErrorClass` (and `code`, when given); returns the error so
 * the test can check its message and cause.
 *
 * @example
 * const error = await rejects(pool.connect(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
 */
export async function rejects<E extends Error>(
  promise: Promise<unknown>,
  ErrorClass: abstract new (...args: any[]) => E,
  code?: string,
): Promise<E> {
  let settled: { ok: true; value: unknown } | { ok: false; error: unknown }
  try {
    settled = { ok: true, value: await promise }
  } catch (error) {
    settled = { ok: false, error }
  }
  if (settled.ok) assert.unreachable(`Expected a rejection with ${ErrorClass.name}, got a value`)
  const error = (settled as { error: unknown }).error
  assert.instance(error, ErrorClass, `Expected ${ErrorClass.name}, got ${String(error)}`)
  if (code !== undefined) assert.is((error as { code?: unknown }).code, code)
  return error as E
}
