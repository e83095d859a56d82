/**
 * The SQLSTATE of an error the server answered with (pg's `DatabaseError`: a five-character code and a
 * `severity`), or undefined. Node's own codes are no SQLSTATE, though some have five letters (`EPIPE`).
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code, severity } = error as { code?: unknown; severity?: unknown }
  return typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}
