const pressureCodes = new Set(['ERR_POOL_EXHAUSTED', 'ERR_POOL_TIMEOUT'])

/**
 * The code of a pool-pressure error (`PoolExhaustedError`, `PoolTimeoutError`), looked for in the error
 * and its causes (a service factory may wrap it), or `undefined`. Compared by `code`, not `instanceof`,
 * so two installed copies of core still match.
 */
export function poolPressureCode(error: unknown): string | undefined {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && pressureCodes.has(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** The body of a 503 caused by pool pressure: the code only, never the pool's name or target. */
export function poolPressureBody(code: string): { error: { code: string; message: string } } {
  return { error: { code, message: 'The service is busy. Retry later.' } }
}
