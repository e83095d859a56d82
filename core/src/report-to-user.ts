/**
 * Calls a user's `onError` with `error`, never throwing: an `onError` that fails (a logger that is down) is
 * reported as a process warning under `code`, naming `owner` and what it was reporting. A plugin's timers and
 * subscriptions call it, where a throw would stop them for good or crash the process.
 *
 * @example
 * reportToUser(options.onError, error, 'instrumentPools()', 'LIFEGUARD_OTEL_ON_ERROR_FAILED')
 */
export function reportToUser(onError: (error: unknown) => void, error: unknown, owner: string, code: string): void {
  try {
    onError(error)
  } catch (failure) {
    process.emitWarning(`The onError of ${owner} failed: ${messageOf(failure)}. It was reporting: ${messageOf(error)}`, { code })
  }
}

function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value)
}
