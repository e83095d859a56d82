/** One call to `process.emitWarning`. */
export interface CapturedWarning {
  message: string
  code: string | undefined
}

/**
 * Replaces `process.emitWarning` while `fn` runs (and until its promise settles), collecting the
 * warnings instead of printing them. Always restores the original.
 */
export async function captureWarnings(fn: (warnings: CapturedWarning[]) => unknown): Promise<CapturedWarning[]> {
  const warnings: CapturedWarning[] = []
  const original = process.emitWarning
  process.emitWarning = ((warning: string | Error, options?: unknown) => {
    const code = typeof options === 'object' && options !== null ? (options as { code?: string }).code : undefined
    warnings.push({ message: typeof warning === 'string' ? warning : warning.message, code })
  }) as typeof process.emitWarning
  try {
    await fn(warnings)
  } finally {
    process.emitWarning = original
  }
  return warnings
}
