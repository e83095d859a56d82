import type { QueryText } from '../query-types.js'

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

const TAB = 0x09
const NEWLINE = 0x0a
const VERTICAL_TAB = 0x0b
const FORM_FEED = 0x0c
const RETURN = 0x0d
const SPACE = 0x20
const DOUBLE_QUOTE = 0x22
const DOLLAR = 0x24
const QUOTE = 0x27
const PAREN = 0x28
const CLOSE_PAREN = 0x29
const STAR = 0x2a
const COMMA = 0x2c
const DASH = 0x2d
const SLASH = 0x2f
const SEMICOLON = 0x3b
const BACKSLASH = 0x5c
const UNDERSCORE = 0x5f

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

// What may start an unquoted identifier or keyword in PostgreSQL (any non-ASCII character included).
function isWordStart(code: number): boolean {
  return isLetter(code) || code === UNDERSCORE || code >= 0x80
}

function isWordPart(code: number): boolean {
  return isWordStart(code) || isDigit(code) || code === DOLLAR
}

function wordEnd(text: string, at: number): number {
  while (at < text.length && isWordPart(text.charCodeAt(at))) at++
  return at
}

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

// True when the word at `at` is `word` (upper-case letters), in any case.
function wordIs(text: string, at: number, word: string): boolean {
  const end = wordEnd(text, at)
  if (end - at !== word.length) return false
  for (let i = 0; i < word.length; i++) if ((text.charCodeAt(at + i) & ~0x20) !== word.charCodeAt(i)) return false
  return true
}

// Past white space and comments (`-- ...`, `/* ... */`, which nest in PostgreSQL). -1 for a comment never
// closed (or when given -1).
function skipSpace(text: string, at: number): number {
  while (at >= 0 && at < text.length) {
    const code = text.charCodeAt(at)
    if (code === SPACE || code === NEWLINE || code === TAB || code === RETURN || code === FORM_FEED || code === VERTICAL_TAB) at++
    else if (code === DASH && text.charCodeAt(at + 1) === DASH) {
      const end = text.indexOf('\n', at + 2)
      at = end < 0 ? text.length : end + 1
    } else if (code === SLASH && text.charCodeAt(at + 1) === STAR) at = blockCommentEnd(text, at)
    else break
  }
  return at
}

// PostgreSQL's block comments nest. Each search resumes where the last one found something, so a text of many
// nested openings is read once (searching anew for the close after each opening read it again: 5 s for 125 kB).
function blockCommentEnd(text: string, at: number): number {
  let depth = 1
  let from = at + 2
  let open = text.indexOf('/*', from)
  let close = text.indexOf('*/', from)
  while (depth > 0) {
    if (close >= 0 && close < from) close = text.indexOf('*/', from)
    if (close < 0) return -1
    if (open >= 0 && open < from) open = text.indexOf('/*', from)
    if (open >= 0 && open < close) {
      depth++
      from = open + 2
      open = text.indexOf('/*', from)
    } else {
      depth--
      from = close + 2
    }
  }
  return from
}

// Past white space, comments and opening parentheses: where a (possibly parenthesized) statement begins.
function statementStart(text: string, at: number): number {
  for (;;) {
    at = skipSpace(text, at)
    if (at < 0 || text.charCodeAt(at) !== PAREN) return at
    at++
  }
}

// Past `'...'` or `"..."` (a doubled quote stands for itself), starting at the opening quote; -1 if unclosed.
function quotedEnd(text: string, at: number, quote: string): number {
  let from = at + 1
  for (;;) {
    const close = text.indexOf(quote, from)
    if (close < 0) return -1
    if (text.charCodeAt(close + 1) !== text.charCodeAt(at)) return close + 1
    from = close + 2
  }
}

// Past an escape string's body (`E'it\'s'`), starting at its quote; -1 if unclosed.
function escapeStringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === BACKSLASH) i++
    else if (code === QUOTE) {
      if (text.charCodeAt(i + 1) !== QUOTE) return i + 1
      i++
    }
  }
  return -1
}

// Past a parameter (`$1`), a dollar-quoted string (`$$...$$`, `$fn$...$fn$`) or a lone `$`; -1 if unclosed.
function dollarEnd(text: string, at: number): number {
  let end = at + 1
  if (isDigit(text.charCodeAt(end))) {
    while (isDigit(text.charCodeAt(end))) end++
    return end
  }
  if (text.charCodeAt(end) !== DOLLAR) {
    if (!isWordStart(text.charCodeAt(end))) return at + 1
    while (end < text.length && isWordPart(text.charCodeAt(end)) && text.charCodeAt(end) !== DOLLAR) end++
    if (text.charCodeAt(end) !== DOLLAR) return at + 1
  }
  // The tag is text[at, end]; compared in place, so finding its end allocates nothing.
  const tagLength = end + 1 - at
  for (let from = end + 1; ; ) {
    const close = text.indexOf('$', from)
    if (close < 0) return -1
    let same = close + tagLength <= text.length
    for (let i = 1; same && i < tagLength; i++) same = text.charCodeAt(close + i) === text.charCodeAt(at + i)
    if (same) return close + tagLength
    from = close + 1
  }
}

// Past the token at `at` (not white space or a comment): a string, a quoted identifier, a dollar-quoted
// string, a word, or a single character. -1 for a string or identifier never closed.
function tokenEnd(text: string, at: number): number {
  const code = text.charCodeAt(at)
  if (code === QUOTE) return quotedEnd(text, at, "'")
  if (code === DOUBLE_QUOTE) return quotedEnd(text, at, '"')
  if (code === DOLLAR) return dollarEnd(text, at)
  if (!isWordStart(code)) return at + 1
  const end = wordEnd(text, at)
  // E'...', the one string in which a backslash escapes the quote.
  if (end === at + 1 && (code & ~0x20) === 0x45 && text.charCodeAt(end) === QUOTE) return escapeStringEnd(text, end)
  return end
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
