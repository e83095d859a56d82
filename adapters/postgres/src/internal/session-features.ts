// Recognises SQL that needs a server session of its own, which PgBouncer in transaction mode does not
// give. A small lexer (comments, string literals, quoted identifiers and dollar quotes are skipped, so
// `'SET'` or a column named "listen" never match) feeds per-statement rules. Bodies of functions and DO
// blocks are strings to it, so what they do is not inspected: this is a guard against mistakes, not a
// sandbox.
import type { SessionFeature } from '../errors.js'

interface Token {
  readonly kind: 'word' | 'string' | 'quoted' | 'punct' | 'other'
  /** Lower-cased for words; the literal's content for strings. */
  readonly value: string
}

const advisorySession = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
])
const transactionScopedSet = new Set(['local', 'transaction', 'constraints'])
// `set_config`'s `is_local` as a string literal PostgreSQL reads as true (`boolin`).
const trueLiterals = new Set(['t', 'tr', 'tru', 'true', 'on', 'y', 'ye', 'yes', '1'])
// Cheap first look: most statements contain none of these and skip the lexer.
const candidate = /set|listen|prepare|execute|deallocate|declare|temp|advisory/i

/**
 * The session feature a statement uses, or undefined when it is safe through PgBouncer in transaction
 * mode. Covers every statement of a multi-statement string.
 *
 * @example
 * sessionFeatureOf("SET search_path = app")      // 'session-set'
 * sessionFeatureOf("SET LOCAL search_path = app") // undefined
 */
export function sessionFeatureOf(sql: string): SessionFeature | undefined {
  if (!candidate.test(sql)) return undefined
  for (const statement of statements(sql)) {
    const feature = classify(statement)
    if (feature !== undefined) return feature
  }
  return undefined
}

function classify(statement: readonly Token[]): SessionFeature | undefined {
  // EXPLAIN ANALYZE runs the statement it explains: `EXPLAIN ANALYZE CREATE TEMP TABLE t AS ...` creates t.
  const tokens = withoutExplain(statement)
  const first = word(tokens, 0)
  switch (first) {
    case 'set':
      if (!transactionScopedSet.has(word(tokens, 1) ?? '')) return 'session-set'
      break
    case 'reset':
      return 'session-set'
    case 'listen':
    case 'unlisten':
      return 'listen'
    case 'prepare':
      // PREPARE TRANSACTION is two-phase commit, not a prepared statement.
      if (word(tokens, 1) !== 'transaction') return 'sql-prepare'
      break
    case 'execute':
    case 'deallocate':
      return 'sql-prepare'
    case 'declare':
      if (hasSequence(tokens, ['with', 'hold'])) return 'hold-cursor'
      break
    case 'create':
      if (createsTemporary(tokens) && !hasSequence(tokens, ['on', 'commit', 'drop'])) return 'temp-table'
      break
    case 'select':
    case 'with':
      if (selectsIntoTemporary(tokens)) return 'temp-table'
      break
  }
  return namesOnly(tokens) ? undefined : functionCalls(tokens)
}

// Statements that name functions without calling them: `REVOKE EXECUTE ON FUNCTION set_config(text, text,
// boolean) FROM PUBLIC`, `COMMENT ON FUNCTION pg_advisory_lock(bigint) IS '...'`, a view or function defined
// (its body runs later, in the transaction that calls it).
function namesOnly(tokens: readonly Token[]): boolean {
  const first = word(tokens, 0)
  if (first === 'grant' || first === 'revoke' || first === 'comment' || first === 'alter' || first === 'drop') return true
  if (first !== 'create') return false
  let at = 1
  if (word(tokens, at) === 'or' && word(tokens, at + 1) === 'replace') at += 2
  if (word(tokens, at) === 'temp' || word(tokens, at) === 'temporary' || word(tokens, at) === 'recursive') at++
  return ['function', 'procedure', 'view', 'rule', 'trigger'].includes(word(tokens, at) ?? '')
}

function functionCalls(tokens: readonly Token[]): SessionFeature | undefined {
  let calls: CallShapes | undefined
  for (let i = 0; i < tokens.length - 1; i++) {
    // A quoted name is the same function (`"pg_advisory_lock"(7)`).
    const name = word(tokens, i) ?? quotedName(tokens, i)
    if (name === undefined || tokens[i + 1]?.value !== '(') continue
    if (advisorySession.has(name)) return 'advisory-lock'
    // Session-wide unless `is_local` is written as true: a parameter or an expression may be false.
    if (name !== 'set_config') continue
    calls ??= callShapes(tokens)
    // (With fewer than three arguments it is no call PostgreSQL has.)
    if ((calls.commas.get(i + 1)?.length ?? 0) >= 2 && !isTrue(loneToken(tokens, calls, i + 1, 2))) return 'session-set'
  }
  return undefined
}

// What may be created in the session's temporary schema (`CREATE FUNCTION pg_temp.f() ...`).
const creatable = new Set(['table', 'view', 'sequence', 'function', 'procedure', 'type', 'domain', 'aggregate'])

// CREATE [OR REPLACE] [GLOBAL | LOCAL] {TEMP | TEMPORARY} {TABLE | VIEW | SEQUENCE} ..., or something created in
// the session's own schema: CREATE [UNLOGGED | RECURSIVE | ...] TABLE [IF NOT EXISTS] pg_temp.name. Read by
// position, so that a table named `temp` (`CREATE INDEX ON temp (a)`) is not taken for the keyword.
function createsTemporary(tokens: readonly Token[]): boolean {
  let at = 1
  if (word(tokens, at) === 'or' && word(tokens, at + 1) === 'replace') at += 2
  if (word(tokens, at) === 'global' || word(tokens, at) === 'local') at++
  if (word(tokens, at) === 'temp' || word(tokens, at) === 'temporary') return true
  for (let kind = at; kind < Math.min(tokens.length, at + 3); kind++) {
    if (!creatable.has(word(tokens, kind) ?? '')) continue
    let name = kind + 1
    if (word(tokens, name) === 'if' && word(tokens, name + 1) === 'not' && word(tokens, name + 2) === 'exists') name += 3
    return inTemporarySchema(tokens, name)
  }
  return false
}

// EXPLAIN ANALYZE [VERBOSE] statement, or EXPLAIN (ANALYZE [true], ...) statement: the statement's tokens. An
// EXPLAIN without ANALYZE only plans it: nothing (it runs nothing), but for EXECUTE.
function withoutExplain(tokens: readonly Token[]): readonly Token[] {
  if (word(tokens, 0) !== 'explain') return tokens
  let at = 1
  let analyzing = false
  if (tokens[at]?.value === '(') {
    for (at++; at < tokens.length && tokens[at]?.value !== ')'; at++) {
      const option = word(tokens, at)
      if (option !== 'analyze' && option !== 'analyse') continue
      const value = tokens[at + 1]
      // ANALYZE, ANALYZE true/on/1, but not ANALYZE false/off/0.
      analyzing = value === undefined || value.value === ',' || value.value === ')' || !['false', 'off', '0', 'f', 'no', 'n'].includes(value.value.toLowerCase())
    }
    at++
  } else {
    for (; ['analyze', 'analyse', 'verbose'].includes(word(tokens, at) ?? ''); at++) if (word(tokens, at) !== 'verbose') analyzing = true
  }
  // EXECUTE reads the session's prepared statement even to plan it.
  return analyzing || word(tokens, at) === 'execute' ? tokens.slice(at) : []
}

// `pg_temp.name` (or `pg_temp_3.name`): the session's temporary schema.
function inTemporarySchema(tokens: readonly Token[], index: number): boolean {
  const schema = word(tokens, index) ?? quotedName(tokens, index)
  return schema !== undefined && /^pg_temp(_\d+)?$/.test(schema) && tokens[index + 1]?.value === '.'
}

function quotedName(tokens: readonly Token[], index: number): string | undefined {
  const token = tokens[index]
  return token?.kind === 'quoted' ? token.value : undefined
}

// SELECT ... INTO [GLOBAL | LOCAL] {TEMP | TEMPORARY} [TABLE] name; not the table of an INSERT INTO or a
// MERGE INTO (a data-modifying WITH), which may be named `temp`.
function selectsIntoTemporary(tokens: readonly Token[]): boolean {
  for (let i = 1; i < tokens.length - 1; i++) {
    if (word(tokens, i) !== 'into') continue
    const before = word(tokens, i - 1)
    if (before === 'insert' || before === 'merge') continue
    let at = i + 1
    let next = word(tokens, at)
    if (next === 'global' || next === 'local') next = word(tokens, ++at)
    if (next === 'temp' || next === 'temporary') return true
    if (inTemporarySchema(tokens, at)) return true
  }
  return false
}

function hasSequence(tokens: readonly Token[], sequence: readonly string[]): boolean {
  outer: for (let i = 0; i + sequence.length <= tokens.length; i++) {
    for (let j = 0; j < sequence.length; j++) if (word(tokens, i + j) !== sequence[j]) continue outer
    return true
  }
  return false
}

// For each `(`: where its `)` is, and the `,` between them at its own level. Found in one pass, so that the
// arguments of nested calls are not each read to the end again (`set_config(set_config(...` was quadratic).
interface CallShapes {
  readonly close: Map<number, number>
  readonly commas: Map<number, number[]>
}

function callShapes(tokens: readonly Token[]): CallShapes {
  const close = new Map<number, number>()
  const commas = new Map<number, number[]>()
  const open: number[] = []
  tokens.forEach((token, i) => {
    if (token.kind !== 'punct') return
    if (token.value === '(') open.push(i)
    else if (token.value === ')') {
      const start = open.pop()
      if (start !== undefined) close.set(start, i)
    } else if (token.value === ',' && open.length > 0) {
      const start = open[open.length - 1] as number
      const list = commas.get(start)
      if (list === undefined) commas.set(start, [i])
      else list.push(i)
    }
  })
  return { close, commas }
}

// The argument at `index` (0-based) of the call whose `(` is at `open`, when it is one token (a literal).
function loneToken(tokens: readonly Token[], shapes: CallShapes, open: number, index: number): Token | undefined {
  const commas = shapes.commas.get(open) ?? []
  const end = shapes.close.get(open) ?? tokens.length
  const from = index === 0 ? open + 1 : (commas[index - 1] ?? end) + 1
  const to = Math.min(commas[index] ?? end, end)
  return to - from === 1 ? tokens[from] : undefined
}

function isTrue(token: Token | undefined): boolean {
  if (token === undefined) return false
  return (token.kind === 'word' && token.value === 'true') || (token.kind === 'string' && trueLiterals.has(token.value.trim().toLowerCase()))
}

function word(tokens: readonly Token[], index: number): string | undefined {
  const token = tokens[index]
  return token?.kind === 'word' ? token.value : undefined
}

const identifierStart = /[A-Za-z_\u0080-\uffff]/
const identifierPart = /[A-Za-z0-9_$\u0080-\uffff]/
const dollarTag = /\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y

/** The statements of a SQL string (split at top-level `;`), each as its tokens; empty ones left out. */
export function statements(sql: string): Token[][] {
  const all: Token[][] = []
  let tokens: Token[] = []
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i] as string
    const next = sql[i + 1]
    if (c === ';') {
      if (tokens.length > 0) all.push(tokens)
      tokens = []
      i++
    } else if (c <= ' ') {
      i++
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i)
      i = end < 0 ? n : end + 1
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i)
    } else if (c === "'") {
      i = readString(sql, i, false, tokens)
    } else if ((c === 'e' || c === 'E') && next === "'") {
      i = readString(sql, i + 1, true, tokens)
    } else if (c === '"') {
      const end = closing(sql, i + 1, '"')
      tokens.push({ kind: 'quoted', value: sql.slice(i + 1, end) })
      i = end + 1
    } else if (c === '$') {
      i = readDollar(sql, i, tokens)
    } else if (identifierStart.test(c)) {
      let end = i + 1
      while (end < n && identifierPart.test(sql[end] as string)) end++
      tokens.push({ kind: 'word', value: sql.slice(i, end).toLowerCase() })
      i = end
    } else if (c >= '0' && c <= '9') {
      let end = i + 1
      while (end < n && /[0-9.]/.test(sql[end] as string)) end++
      tokens.push({ kind: 'other', value: sql.slice(i, end) })
      i = end
    } else {
      tokens.push({ kind: 'punct', value: c })
      i++
    }
  }
  if (tokens.length > 0) all.push(tokens)
  return all
}

function skipBlockComment(sql: string, start: number): number {
  let depth = 0
  let i = start
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++
      i += 2
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      i += 2
      if (--depth === 0) return i
    } else {
      i++
    }
  }
  return i
}

// A quoted run ending at an unescaped `quote` (doubled quotes stay inside); the index of that quote.
function closing(sql: string, from: number, quote: string, backslashes = false): number {
  let i = from
  while (i < sql.length) {
    const c = sql[i]
    if (backslashes && c === '\\') i += 2
    else if (c === quote && sql[i + 1] === quote) i += 2
    else if (c === quote) return i
    else i++
  }
  return sql.length
}

function readString(sql: string, quote: number, backslashes: boolean, tokens: Token[]): number {
  const end = closing(sql, quote + 1, "'", backslashes)
  tokens.push({ kind: 'string', value: sql.slice(quote + 1, end).replaceAll("''", "'") })
  return end + 1
}

function readDollar(sql: string, start: number, tokens: Token[]): number {
  dollarTag.lastIndex = start
  const tag = dollarTag.exec(sql)
  if (tag === null) {
    // `$1` (a parameter) or a lone `$`.
    let end = start + 1
    while (end < sql.length && /[0-9]/.test(sql[end] as string)) end++
    tokens.push({ kind: 'other', value: sql.slice(start, end) })
    return end
  }
  const bodyStart = start + tag[0].length
  const bodyEnd = sql.indexOf(tag[0], bodyStart)
  const end = bodyEnd < 0 ? sql.length : bodyEnd
  tokens.push({ kind: 'string', value: sql.slice(bodyStart, end) })
  return bodyEnd < 0 ? sql.length : end + tag[0].length
}
