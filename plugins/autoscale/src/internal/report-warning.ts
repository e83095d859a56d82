/** The default `onError`: a process warning with a stable code, so a failure is seen but never thrown. */
export function reportWarning(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error)
  process.emitWarning(`Autoscaler failed: ${message}`, { code: 'LIFEGUARD_AUTOSCALE_FAILED' })
}
