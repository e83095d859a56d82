// uvu's assert.throws is synchronous; this is its async counterpart.
import * as assert from 'uvu/assert'

/**
 * Awaits `promise`, asserts it rejects with an instance of `ErrorClass` (and `code`, when given), and returns
 * the error for further assertions.
 */
export async function rejects<E extends Error>(
  promise: Promise<unknown>,
  ErrorClass: abstract new (...args: never[]) => E,
  code?: string | number,
): Promise<E> {
  let error: unknown
  try {
    await promise
  } catch (caught) {
    error = caught
  }
  if (error === undefined) assert.unreachable(`Expected a rejection with ${ErrorClass.name}, but it resolved`)
  assert.instance(error, ErrorClass, `Expected ${ErrorClass.name}, got ${String(error)}`)
  if (code !== undefined) assert.is((error as { code?: unknown }).code, code)
  return error as E
}
