import { hasErrorCode, RegistrationError, ResolutionError } from './errors.js'
import { describeValue } from './options.js'
import { redactError, redactText } from './redact.js'

// Small helpers the container and its scopes share.

export function defaultDisposer(instance: unknown): ((instance: unknown) => unknown) | undefined {
  if (typeof instance !== 'object' && typeof instance !== 'function') return undefined
  if (instance === null) return undefined
  const disposable = instance as { [Symbol.asyncDispose]?: () => Promise<void>; [Symbol.dispose]?: () => void }
  if (typeof disposable[Symbol.asyncDispose] === 'function') return (i) => (i as typeof disposable)[Symbol.asyncDispose]!()
  if (typeof disposable[Symbol.dispose] === 'function') return (i) => (i as typeof disposable)[Symbol.dispose]!()
  return undefined
}

export function noop(): void {}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

// A bad name given to a registration or `provide()`: said as it was, never converted (a symbol would throw).
export function badName(action: string, name: unknown): RegistrationError {
  return new RegistrationError(`Could not ${action}. Expected a non-empty string name, got ${describeName(name)}.`)
}

// A bad name given to `resolve()`: `undefined` would otherwise match nothing provided and resolve to undefined.
export function badResolve(name: unknown, path: readonly string[]): ResolutionError {
  return new ResolutionError('unknown', [...path, String(name)], `Could not resolve a service. Expected a non-empty string name, got ${describeName(name)}.`)
}

function describeName(name: unknown): string {
  return name === '' ? 'an empty string' : describeValue(name)
}

export function wrapFactoryError(error: unknown, path: readonly string[]): unknown {
  // By code, not `instanceof`: a factory may resolve from a scope of another copy of this package.
  if (hasErrorCode(error, 'ERR_RESOLUTION') || hasErrorCode(error, 'ERR_DISPOSED')) return error
  const name = path[path.length - 1] ?? '?'
  // (A factory's connect error may quote its connection string: this message goes to loggers and HTTP adapters.)
  const reason = redactText(error instanceof Error ? error.message : String(error))
  // The cause too: a logger prints the cause chain (`util.inspect`, pino's serializer).
  return new ResolutionError('factory', path, `Could not resolve '${name}'. Its factory failed: ${reason}`, { cause: redactThrown(error) })
}

/**
 * A disposer's failure, made safe to hand on: it reaches `DisposeFailedError.errors` (thrown to the caller of
 * `dispose()`, `runOperation`) or `onError`, which log it, and `(client) => client.end()` may reject with its
 * connection string. Redacted once, where disposal collects it, as a factory's failure is.
 */
export function disposerError(error: unknown): unknown {
  return redactThrown(error)
}

// An error is redacted (a copy of its class, with its code and fields, when it held a secret); a string is;
// anything else thrown (a plain object with a status) is kept as it is, as its fields are what the caller reads.
function redactThrown(error: unknown): unknown {
  return error instanceof Error ? redactError(error) : typeof error === 'string' ? redactText(error) : error
}
