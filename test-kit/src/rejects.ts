import * as assert from 'uvu/assert'

// Accepts abstract classes and classes with any constructor signature.
type ErrorClass<E extends Error> = abstract new (...args: never[]) => E

/**
 * Awaits `promise` (or calls `fn` and awaits its result), asserts that it rejects with an instance of
 * `ErrorClass` carrying `code` (when given), and returns the error for further assertions.
 */
export async function rejects<E extends Error>(promise: PromiseLike<unknown> | (() => PromiseLike<unknown>), ErrorClass: ErrorClass<E>, code?: string | number): Promise<E> {
  let caught: unknown
  let rejected = false
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (error) {
    caught = error
    rejected = true
  }
  if (!rejected) assert.unreachable(`Expected a rejection with ${ErrorClass.name}, but the promise resolved`)
  return checkError(caught, ErrorClass, code)
}

/** Calls `fn`, asserts that it throws synchronously like `rejects` does, and returns the error. */
export function throwsError<E extends Error>(fn: () => unknown, ErrorClass: ErrorClass<E>, code?: string | number): E {
  let caught: unknown
  let threw = false
  try {
    fn()
  } catch (error) {
    caught = error
    threw = true
  }
  if (!threw) assert.unreachable(`Expected ${ErrorClass.name} to be thrown, but nothing was thrown`)
  return checkError(caught, ErrorClass, code)
}

function checkError<E extends Error>(error: unknown, ErrorClass: ErrorClass<E>, code: string | number | undefined): E {
  if (!(error instanceof ErrorClass)) {
    const got = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    assert.unreachable(`Expected ${ErrorClass.name}, got ${got}`)
  }
  if (code !== undefined) assert.is((error as { code?: unknown }).code, code, `code of ${ErrorClass.name}`)
  return error as E
}
