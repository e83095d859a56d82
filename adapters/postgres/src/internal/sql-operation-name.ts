import type { QueryText } from '../query-types.js'

// Statements PostgreSQL runs, by their first keyword. A fixed list keeps `query` events low-cardinality
// whatever the application sends: anything else (a typo, a new command) reports no operation name.
const keywords = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'WITH', 'VALUES', 'TABLE',
  'BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE',
  'PREPARE', 'EXECUTE', 'DEALLOCATE', 'DECLARE', 'FETCH', 'MOVE', 'CLOSE',
  'COPY', 'CALL', 'DO', 'SET', 'SHOW', 'RESET', 'DISCARD', 'LOCK', 'LISTEN', 'NOTIFY', 'UNLISTEN',
  'CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'COMMENT', 'GRANT', 'REVOKE', 'REASSIGN', 'SECURITY', 'IMPORT',
  'ANALYZE', 'VACUUM', 'EXPLAIN', 'REFRESH', 'REINDEX', 'CLUSTER', 'CHECKPOINT', 'LOAD',
]

const byLength: string[][] = []
for (const keyword of keywords) (byLength[keyword.length] ??= []).push(keyword)

const SPACE = 0x20
const TAB = 0x09
const NEWLINE = 0x0a
const RETURN = 0x0d
const PAREN = 0x28
const DASH = 0x2d
const SLASH = 0x2f
const STAR = 0x2a

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

// Past leading white space, parentheses and comments (`-- ...`, `/* ... */`).
function statementStart(text: string): number {
  let at = 0
  while (at < text.length) {
    const code = text.charCodeAt(at)
    if (code === SPACE || code === TAB || code === NEWLINE || code === RETURN || code === PAREN) at++
    else if (code === DASH && text.charCodeAt(at + 1) === DASH) {
      const end = text.indexOf('\n', at + 2)
      at = end < 0 ? text.length : end + 1
    } else if (code === SLASH && text.charCodeAt(at + 1) === STAR) {
      const end = text.indexOf('*/', at + 2)
      at = end < 0 ? text.length : end + 2
    } else break
  }
  return at
}

/**
 * The first keyword of a statement, upper-case (`SELECT`, `INSERT`, `BEGIN`, ...), or undefined when it
 * is not one PostgreSQL knows. Reads the text in place and returns one of a fixed set of strings, so
 * naming every statement allocates nothing; never returns any other part of the text.
 *
 * @example
 * sqlOperationName('  select * from orders') // 'SELECT'
 */
export function sqlOperationName(query: QueryText): string | undefined {
  const text = typeof query === 'string' ? query : (query as { text?: unknown } | null)?.text
  if (typeof text !== 'string') return undefined
  const start = statementStart(text)
  let end = start
  while (end < text.length && isLetter(text.charCodeAt(end))) end++
  const candidates = byLength[end - start]
  if (candidates === undefined) return undefined
  next: for (const keyword of candidates) {
    // Clearing bit 5 upper-cases an ASCII letter (and every character here is one).
    for (let i = 0; i < keyword.length; i++) if ((text.charCodeAt(start + i) & ~0x20) !== keyword.charCodeAt(i)) continue next
    return keyword
  }
  return undefined
}
