import { redactText } from './redact.js'

/**
 * Calls a user's `onError` with `error`, never throwing: an `onError` that fails (a logger that is down), by
 * throwing or with a rejected promise (an async one), is reported as a process warning under `code`, naming
 * `owner` and what it was reporting. A plugin's timers and subscriptions call it, where a throw would stop
 * them for good and a rejection would crash the process.
 *
 * @example
 * reportToUser(options.onError, error, 'instrumentPools()', 'LIFEGUARD_OTEL_ON_ERROR_FAILED')
 */
export function reportToUser(onError: (error: unknown) => unknown, error: unknown, owner: string, code: string): void {
  const failed = (failure: unknown): void => {
    process.emitWarning(`The onError of ${owner} failed: ${messageOf(failure)}. It was reporting: ${messageOf(error)}`, { code })
  }
  try {
    const returned = onError(error)
    if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') (returned as PromiseLike<unknown>).then(undefined, failed)
  } catch (failure) {
    failed(failure)
  }
}

// What a warning can show of a thrown value, which may be anything: one without a string form is named by type.
function messageOf(value: unknown): string {
  try {
    return redactText(value instanceof Error ? String(value.message) : String(value))
  } catch {
    return `a value without a string form (${typeof value})`
  }
}
