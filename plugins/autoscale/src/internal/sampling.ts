/**
 * The sampling period for an evaluation interval when none is configured: ten samples per window, but
 * no more often than every 25 ms (a metrics snapshot is not free) and never longer than the window.
 */
export function defaultSampleInterval(evaluationIntervalMillis: number): number {
  return Math.min(evaluationIntervalMillis, Math.min(1000, Math.max(25, Math.round(evaluationIntervalMillis / 10))))
}
