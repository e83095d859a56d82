import type { Readable } from 'node:stream'
import type { ChangeStream } from 'mongodb'

/** Turns an error into one safe to report: the pool's redaction (the same error when it holds no secret). */
export type Redact = (error: unknown) => unknown

/**
 * Makes a cursor's Node stream (`cursor.stream()`) emit redacted errors. The driver ends the stream by calling
 * its `destroy(error)` with a failed fetch's error, which Node then keeps as `stream.errored` and emits as
 * `'error'` (to `for await` and `pipeline()` as well): redacting there costs nothing per document.
 */
export function redactStreamErrors<S extends Readable>(stream: S, redact: Redact): S {
  const destroy = stream.destroy
  own(stream, 'destroy', function destroyRedacted(this: S, error?: Error | null, ...rest: unknown[]): S {
    return Reflect.apply(destroy, this, [error === undefined || error === null ? error : redact(error), ...rest]) as S
  })
  return stream
}

// Where the pinned driver (7.9) hands every error of a change stream over, before it throws it (`next()`,
// `tryNext()`, `hasNext()`, `for await`) or emits it (`'error'`): redacting there costs nothing per change.
// Driver internals, so a test checks that the pinned driver still has them.
interface ChangeStreamInternals {
  _processErrorIteratorMode(error: unknown, cursorInitialized: boolean): Promise<void>
  _processErrorStreamMode(error: unknown, cursorInitialized: boolean): void
}

/** The names of the change stream's error hand-overs, for the test of the pinned driver. */
export const changeStreamErrorHooks = ['_processErrorIteratorMode', '_processErrorStreamMode'] as const

/**
 * Makes a change stream (`watch()`) reject and emit redacted errors, and its `stream()` too. It stays the same
 * object, ungated; what it does is unchanged, its errors keep their class, code and labels (so it resumes as before).
 */
export function redactChangeStreamErrors<S extends ChangeStream>(changeStream: S, redact: Redact): S {
  const internals = changeStream as unknown as ChangeStreamInternals
  const iteratorMode = internals._processErrorIteratorMode
  const streamMode = internals._processErrorStreamMode
  // A driver without them (renamed in a later 7.x): redacted at the public surface instead, a promise per call.
  if (typeof iteratorMode !== 'function' || typeof streamMode !== 'function') return redactChangeStreamSurface(changeStream, redact)
  own(changeStream, '_processErrorIteratorMode', function processErrorRedacted(this: S, error: unknown, cursorInitialized: boolean) {
    return iteratorMode.call(this, redact(error), cursorInitialized)
  })
  own(changeStream, '_processErrorStreamMode', function processErrorRedacted(this: S, error: unknown, cursorInitialized: boolean) {
    streamMode.call(this, redact(error), cursorInitialized)
  })
  const stream = changeStream.stream
  own(changeStream, 'stream', function streamRedacted(this: S, ...args: unknown[]) {
    return redactStreamErrors(Reflect.apply(stream, this, args) as Readable, redact)
  })
  return changeStream
}

/**
 * Makes a change stream reject and emit redacted errors through its public methods alone: `next()`,
 * `tryNext()`, `hasNext()` (which `for await` calls), `'error'` events and `stream()`. The fallback for a
 * driver whose internal hand-overs are not where `redactChangeStreamErrors` expects them.
 */
export function redactChangeStreamSurface<S extends ChangeStream>(changeStream: S, redact: Redact): S {
  for (const key of ['next', 'tryNext', 'hasNext'] as const) {
    const method = changeStream[key] as (...args: unknown[]) => Promise<unknown>
    own(changeStream, key, function redacted(this: S, ...args: unknown[]) {
      return Reflect.apply(method, this, args).catch((error: unknown) => {
        throw redact(error)
      })
    })
  }
  const emit = changeStream.emit as (event: string | symbol, ...args: unknown[]) => boolean
  own(changeStream, 'emit', function emitRedacted(this: S, event: string | symbol, ...args: unknown[]) {
    if (event === 'error') args[0] = redact(args[0])
    return Reflect.apply(emit, this, [event, ...args])
  })
  const stream = changeStream.stream
  own(changeStream, 'stream', function streamRedacted(this: S, ...args: unknown[]) {
    return redactStreamErrors(Reflect.apply(stream, this, args) as Readable, redact)
  })
  return changeStream
}

// An own method in place of the prototype's, not enumerable, as the prototype's is not.
function own(target: object, key: string, method: (...args: never[]) => unknown): void {
  Object.defineProperty(target, key, { value: method, writable: true, enumerable: false, configurable: true })
}
