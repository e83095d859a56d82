import { satisfiesRule, type OptionRule, type OptionRules } from './options.js'
import { escapeUnprintable, loneSurrogate, unprintable } from './printable.js'
import type { ServiceContainer, ServiceScope } from './service-container.js'

// What `OperationContext.create()` accepts, and the checks for it: names and request ids go into logs,
// events and metric attributes as they are.

/** Options of `OperationContext.create()`. */
export interface OperationContextOptions {
  /**
   * A container (a scope is created and owned by the context) or a scope (owned by the context from now on; a
   * scope another context owns is refused).
   */
  container: ServiceContainer<any> | ServiceScope<any>
  /** The caller's signal: when it aborts, the context's `signal` aborts too. */
  signal?: AbortSignal | undefined
  /** Correlates logs and events (1 to 256 characters, no control, line-break, bidi or zero-width characters); adapters take it from `x-request-id`. */
  requestId?: string | undefined
  /**
   * Abort the context's `signal` this many ms after creation. Once the signal is in use, its timer holds the
   * process until the deadline passes, the operation is aborted, or it is disposed.
   */
  deadlineMillis?: number | undefined
}

/** @internal A scope, duck-typed: it may come from another copy of this package (an adapter's own). */
export const scopeRule: OptionRule = {
  type: 'custom',
  expected: 'a scope (`container.createScope()`)',
  check: (value) => typeof value === 'object' && value !== null && typeof (value as { resolve?: unknown }).resolve === 'function',
}

/**
 * @internal The options argument is an options object, not the container or scope it should hold: a scope's
 * `container` getter reads as that option, and the context would run in a new scope of the root container,
 * the scope given never used nor disposed.
 */
export const optionsBagRule: OptionRule = {
  type: 'custom',
  expected: 'an options object ({ container })',
  optional: true,
  check: (value) => !isScopeLike(value),
}

/** @internal An operation name an adapter's name builder returned. */
export const nameRule: OptionRule = { type: 'string', nonEmpty: true }

// The names an operation is given go into logs, events and metric attributes as they are: printable and bounded,
// as a request id is. (An adapter's own name once routed, method and route pattern, is not checked again; a
// user's `operationName` is, by the HTTP settings.)
/**
 * The rule for an operation's handler or operation name, and the HTTP middlewares' `handlerName`.
 *
 * @internal
 */
export const printableNameRule: OptionRule = { type: 'custom', expected: 'a non-empty string of up to 256 characters without control, line-break, bidi or zero-width characters', check: (value) => isPrintableId(value) }

/** @internal The rules of `OperationContextOptions`. */
export const optionRules: OptionRules<OperationContextOptions> = {
  // A scope serves one operation: a second context on it would be disposed with the first's.
  container: { type: 'custom', expected: 'a ServiceContainer, or a ServiceScope no other OperationContext has taken over', check: (value) => isScopeLike(value) && !isTakenOver(value) },
  signal: { type: 'signal', optional: true },
  // It goes into logs and events as it is: nothing a log viewer misreads (see `unprintable`), and a bounded length.
  requestId: { type: 'custom', expected: 'a string of 1 to 256 characters without control, line-break, bidi or zero-width characters', check: isPrintableId, optional: true },
  deadlineMillis: { type: 'duration', min: 1, optional: true },
}

const ruleEntries = Object.entries(optionRules) as [string, OptionRule][]

/** @internal The same rules as the full validation, checked without building errors: true when it would pass. */
export function isWellFormed(handler: unknown, operation: unknown, options: OperationContextOptions | undefined): boolean {
  if (!isPrintableId(handler) || !isPrintableId(operation)) return false
  if (typeof options !== 'object' || options === null || isScopeLike(options)) return false
  const bag = options as unknown as Record<string, unknown>
  for (const key in bag) if (!Object.hasOwn(optionRules, key)) return false
  for (const [key, rule] of ruleEntries) if (!satisfiesRule(bag[key], rule)) return false
  return true
}

// A scope (not a container, which makes a new scope per context) already serving an operation.
function isTakenOver(value: unknown): boolean {
  const scope = value as { createScope?: unknown; providedContext?: () => unknown }
  return typeof scope.createScope !== 'function' && typeof scope.providedContext === 'function' && scope.providedContext() !== undefined
}

/** @internal A request id or an operation's name: 1 to 256 characters, none of them control, separator, bidi or zero-width, no lone surrogate. */
export function isPrintableId(value: unknown): boolean {
  // Well formed: a lone surrogate is no character, and encoders turn it into U+FFFD or refuse it.
  return typeof value === 'string' && value.length >= 1 && value.length <= 256 && !unprintable.test(value) && !loneSurrogate.test(value)
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff

/**
 * @internal `name` as a printable id: what `isPrintableId` refuses is escaped (`\u0085`), and a name past 256
 * characters is cut. For names built from what a client sent (a path no route matched, a parameterized mount
 * path), which go into logs, events and metric attributes.
 */
export function printableName(name: string): string {
  if (isPrintableId(name)) return name
  const shown = escapeUnprintable(name)
  if (shown.length <= 256) return shown
  // Cut between characters, not inside a surrogate pair.
  const end = isHighSurrogate(shown.charCodeAt(252)) ? 252 : 253
  return `${shown.slice(0, end)}...`
}


function isScopeLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { resolve?: unknown }).resolve === 'function' &&
    typeof (value as { dispose?: unknown }).dispose === 'function'
  )
}
