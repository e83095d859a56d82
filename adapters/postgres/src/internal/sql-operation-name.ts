import type { QueryText } from '../query-types.js'
import { CLOSE_PAREN, COMMA, DOUBLE_QUOTE, PAREN, SEMICOLON, isWordStart, skipSpace, statementStart, tokenEnd, wordEnd, wordIs } from './sql-lexer.js'

// Statements PostgreSQL runs, by their first keyword. A fixed list keeps `query` events low-cardinality
// whatever the application sends: anything else (a typo, a new command) reports no operation name. EXPLAIN
// is left out on purpose: it wraps another statement, and neither name is right (without ANALYZE the
// statement does not run; with it, it does). WITH is resolved to the statement it introduces.
const keywords = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'WITH', 'VALUES', 'TABLE',
  'BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE',
  'PREPARE', 'EXECUTE', 'DEALLOCATE', 'DECLARE', 'FETCH', 'MOVE', 'CLOSE',
  'COPY', 'CALL', 'DO', 'SET', 'SHOW', 'RESET', 'DISCARD', 'LOCK', 'LISTEN', 'NOTIFY', 'UNLISTEN',
  'CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'COMMENT', 'GRANT', 'REVOKE', 'REASSIGN', 'SECURITY', 'IMPORT',
  'ANALYZE', 'VACUUM', 'REFRESH', 'REINDEX', 'CLUSTER', 'CHECKPOINT', 'LOAD',
]
// What a WITH may introduce, and what its auxiliary statements may be for the whole to be one operation. A
// data-modifying one (`WITH d AS (DELETE ...) SELECT ...`) makes two operations: no name, as the
// conventions ask for a text holding several.
const withStatements = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'VALUES', 'TABLE'])
const readOnlyStatements = new Set(['SELECT', 'VALUES', 'TABLE'])

const byLength: string[][] = []
for (const keyword of keywords) (byLength[keyword.length] ??= []).push(keyword)

// How far into a text the scanner reads (beyond a statement's first keyword): a name is cheap on any
// statement, and a text with a `;` or a WITH clause past this reports none rather than a guess.
const maxScanned = 16_384

// The keyword of the list spelled (in any case) by text[start, end), or undefined.
function keywordAt(text: string, start: number, end: number): string | undefined {
  const candidates = byLength[end - start]
  if (candidates === undefined) return undefined
  next: for (const keyword of candidates) {
    // Clearing bit 5 upper-cases an ASCII letter, and turns no other character into one.
    for (let i = 0; i < keyword.length; i++) if ((text.charCodeAt(start + i) & ~0x20) !== keyword.charCodeAt(i)) continue next
    return keyword
  }
  return undefined
}


// Past the parenthesized group opening at `at`; -1 if it does not close within the scanned part.
function parensEnd(text: string, at: number): number {
  let depth = 0
  while (at >= 0 && at < text.length && at <= maxScanned) {
    const code = text.charCodeAt(at)
    if (code === PAREN) depth++
    else if (code === CLOSE_PAREN && --depth === 0) return at + 1
    at = code === PAREN || code === CLOSE_PAREN ? skipSpace(text, at + 1) : skipSpace(text, tokenEnd(text, at))
  }
  return -1
}

// Where the statement a WITH introduces begins (`at` is past `WITH`), if every auxiliary statement is a
// query: `WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (query) [, ...] statement`. -1 otherwise,
// or when the text does not follow that grammar (a nested WITH, a SEARCH or CYCLE clause).
function withStatementStart(text: string, at: number): number {
  at = skipSpace(text, at)
  if (at >= 0 && wordIs(text, at, 'RECURSIVE')) at = skipSpace(text, at + 'RECURSIVE'.length)
  for (;;) {
    if (at < 0 || at >= text.length || at > maxScanned) return -1
    const code = text.charCodeAt(at)
    if (code === DOUBLE_QUOTE) at = tokenEnd(text, at)
    else if (isWordStart(code)) at = wordEnd(text, at)
    else return -1
    at = skipSpace(text, at)
    if (at >= 0 && text.charCodeAt(at) === PAREN) at = skipSpace(text, parensEnd(text, at))
    if (at < 0 || !wordIs(text, at, 'AS')) return -1
    at = skipSpace(text, at + 2)
    if (at >= 0 && wordIs(text, at, 'NOT')) at = skipSpace(text, at + 3)
    if (at >= 0 && wordIs(text, at, 'MATERIALIZED')) at = skipSpace(text, at + 'MATERIALIZED'.length)
    if (at < 0 || text.charCodeAt(at) !== PAREN) return -1
    const bodyStart = statementStart(text, at + 1)
    if (bodyStart < 0) return -1
    const body = keywordAt(text, bodyStart, wordEnd(text, bodyStart))
    if (body === undefined || !readOnlyStatements.has(body)) return -1
    at = skipSpace(text, parensEnd(text, at))
    if (at < 0 || text.charCodeAt(at) !== COMMA) return statementStart(text, at)
    at = skipSpace(text, at + 1)
  }
}

// True when nothing but white space, comments and empty statements follows the statement that goes on
// from `at`: a `;` outside strings, quoted identifiers and comments starts another.
function isSingleStatement(text: string, at: number): boolean {
  const last = text.lastIndexOf(';')
  if (last < at) return true
  // A long statement that ends in its only `;`: nothing to read. (Were that `;` inside a string or a
  // comment, it would be one never closed, which the server refuses.)
  if (last > maxScanned) return text.indexOf(';', at) === last && skipSpace(text, last + 1) === text.length
  for (;;) {
    at = skipSpace(text, at)
    if (at < 0) return false
    if (at > last) return true
    if (text.charCodeAt(at) === SEMICOLON) {
      do {
        at = skipSpace(text, at + 1)
      } while (at >= 0 && text.charCodeAt(at) === SEMICOLON)
      return at === text.length
    }
    at = tokenEnd(text, at)
    if (at < 0) return false
  }
}

/**
 * The operation a statement performs, as the upper-case keyword that names it (`SELECT`, `INSERT`,
 * `BEGIN`, ...), or undefined when that is not one thing PostgreSQL knows. A WITH query is named after the
 * statement it introduces (`WITH x AS (SELECT ...) UPDATE ...` is an `UPDATE`); a text that holds several
 * operations (two statements, a data-modifying WITH) and an EXPLAIN have no name. Reads the text in place
 * (a bounded part of it) and returns one of a fixed set of strings, so naming every statement allocates
 * nothing; never returns any other part of the text.
 *
 * @example
 * sqlOperationName('  select * from orders') // 'SELECT'
 * sqlOperationName('SELECT 1; DELETE FROM orders') // undefined
 */
export function sqlOperationName(query: QueryText): string | undefined {
  const text = typeof query === 'string' ? query : (query as { text?: unknown } | null)?.text
  if (typeof text !== 'string') return undefined
  // An application sends the same few statements over and over: a name read from the text once is looked up
  // after that (measured: a scan cost 1.6k instructions for a short statement and 13.5k for a WITH, a lookup
  // less than the old first-word check). Only short texts are kept, and at most `cachedNames` of them.
  if (text.length > maxCachedLength) return nameOf(text)
  const cached = namesByText.get(text)
  if (cached !== undefined) return cached === noName ? undefined : cached
  const name = nameOf(text)
  if (namesByText.size >= cachedNames) namesByText.clear()
  namesByText.set(text, name ?? noName)
  return name
}

const cachedNames = 512
const maxCachedLength = 2_048
const noName = ''
const namesByText = new Map<string, string>()

function nameOf(text: string): string | undefined {
  let start = statementStart(text, 0)
  if (start < 0) return undefined
  let end = wordEnd(text, start)
  let keyword = keywordAt(text, start, end)
  if (keyword === 'WITH') {
    start = withStatementStart(text, end)
    if (start < 0) return undefined
    end = wordEnd(text, start)
    keyword = keywordAt(text, start, end)
    if (keyword === undefined || !withStatements.has(keyword)) return undefined
  }
  if (keyword === undefined || !isSingleStatement(text, end)) return undefined
  return keyword
}
