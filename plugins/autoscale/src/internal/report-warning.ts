import { redactText } from '@lifeguard/core/adapter'

/**
 * The default `onError`: a process warning with a stable code, so a failure is seen but never thrown. Its message
 * is redacted: a budget's `query` or a driver may quote a connection string in its errors.
 */
export function reportWarning(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error)
  process.emitWarning(`Autoscaler failed: ${redactText(message)}`, { code: 'LIFEGUARD_AUTOSCALE_FAILED' })
}
