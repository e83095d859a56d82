import * as assert from 'uvu/assert'

/** Asserts that `fn` throws an instance of `ErrorClass` with `code`, and returns it for further checks. */
export function throwsError<E extends Error>(fn: () => unknown, ErrorClass: new (...args: any[]) => E, code: string): E {
  try {
    fn()
  } catch (error) {
    assert.instance(error, ErrorClass)
    assert.is((error as E & { code?: string }).code, code)
    return error as E
  }
  assert.unreachable(`expected ${ErrorClass.name} (${code})`)
  throw new Error('unreachable')
}
