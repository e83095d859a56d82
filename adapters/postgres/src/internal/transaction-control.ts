// The statements of a text that end the transaction they run in, read from the text (comments, strings and
// quoted identifiers skipped): the server's command tags cannot tell `ROLLBACK AND CHAIN` from `ROLLBACK TO
// SAVEPOINT` (both ROLLBACK), nor `PREPARE TRANSACTION` from SQL `PREPARE` (both PREPARE), and a statement that
// failed or got no answer has no tag at all. Read on rare paths only (a failure, a tag that may end a
// transaction, an abort), so the whole text is read, once.
import { PAREN, SEMICOLON, skipSpace, tokenEnd, wordEnd, wordIs } from './sql-lexer.js'

/** SQL text, or what holds it (a query config, pg's own Query): pg's `text` field. */
export type SqlText = string | { readonly text?: unknown } | undefined

/** What the statements of a text may do to the transaction they run in. */
export interface TransactionControl {
  /** A `COMMIT` or `END` (`AND CHAIN` too), not `COMMIT PREPARED`. */
  readonly commits: boolean
  /** A `PREPARE TRANSACTION`, not SQL `PREPARE` of a statement. */
  readonly prepares: boolean
  /** A `ROLLBACK` or `ABORT` (`AND CHAIN` too), not `ROLLBACK TO SAVEPOINT` or `ROLLBACK PREPARED`. */
  readonly rollsBack: boolean
}

/**
 * Which statements of `query` may end the transaction it runs in; given `statements`, only its first that many
 * (those that ran before a failure). Nothing for a query config without text (a named statement run again).
 *
 * @example
 * transactionControl("-- checkout\nPREPARE TRANSACTION 'g1'") // { commits: false, prepares: true, rollsBack: false }
 * transactionControl("ROLLBACK TO SAVEPOINT s; COMMIT PREPARED 'g1'") // all false
 * transactionControl('SELECT 1/0; ROLLBACK', 1) // all false: the ROLLBACK never ran
 */
export function transactionControl(query: SqlText, statements = Infinity): TransactionControl {
  let commits = false
  let prepares = false
  let rollsBack = false
  for (const kind of statementKinds(query, statements)) {
    if (kind === 'commit') commits = true
    else if (kind === 'prepare') prepares = true
    else if (kind === 'rollback') rollsBack = true
  }
  return { commits, prepares, rollsBack }
}

/** True when a statement of `query` may commit the transaction it runs in: a `COMMIT`, `END` or `PREPARE TRANSACTION`. */
export function mayCommit(query: SqlText): boolean {
  const control = transactionControl(query)
  return control.commits || control.prepares
}

/**
 * How many statements of `query` come before its first that may commit (`COMMIT`, `END`, `PREPARE TRANSACTION`),
 * counted as the server counts them (one command tag each); -1 when none may.
 *
 * @example
 * statementsBeforeCommit('INSERT INTO t SELECT * FROM big; COMMIT') // 1
 */
export function statementsBeforeCommit(query: SqlText): number {
  return statementKinds(query, Infinity).findIndex((kind) => kind === 'commit' || kind === 'prepare')
}

type StatementKind = 'commit' | 'prepare' | 'rollback' | undefined

// The kinds of the first `limit` statements of `query`, split as the server splits them (one command tag each): an
// empty one (`;;`) is none, and a SQL-standard function body (`CREATE FUNCTION f() ... BEGIN ATOMIC SELECT 1;
// SELECT 2; END`) belongs to its `CREATE`, its `END` no statement of its own.
function statementKinds(query: SqlText, limit: number): StatementKind[] {
  const text = typeof query === 'string' ? query : query?.text
  const kinds: StatementKind[] = []
  if (typeof text !== 'string') return kinds
  let at = skipSpace(text, 0)
  while (at >= 0 && at < text.length && kinds.length < limit) {
    if (text.charCodeAt(at) !== SEMICOLON) {
      kinds.push(statementKind(text, at))
      at = statementEnd(text, at)
    }
    if (at >= 0) at = skipSpace(text, at + 1)
  }
  return kinds
}

// The `;` that ends the statement beginning at `at` (outside strings, quoted identifiers, comments and `BEGIN
// ATOMIC ... END` bodies), the text's length when none does, -1 for what is never closed.
function statementEnd(text: string, at: number): number {
  let bodies = 0
  while (at >= 0 && at < text.length) {
    const code = text.charCodeAt(at)
    if (code === SEMICOLON) {
      if (bodies === 0) return at
      // A statement of the body ends; the body's own `END` may come next (a `CASE ... END` never starts one).
      at = skipSpace(text, at + 1)
      if (at >= 0 && wordIs(text, at, 'END')) {
        bodies--
        at = skipSpace(text, wordEnd(text, at))
      }
      continue
    }
    const end = tokenEnd(text, at)
    if (end >= 0 && wordIs(text, at, 'BEGIN')) {
      // An empty body (`BEGIN ATOMIC END`) has no `;` before its `END`: read as any word.
      const next = skipSpace(text, end)
      const after = next >= 0 && wordIs(text, next, 'ATOMIC') ? skipSpace(text, wordEnd(text, next)) : -1
      if (after >= 0 && !wordIs(text, after, 'END')) bodies++
    }
    at = skipSpace(text, end)
  }
  return at
}

// How the statement whose first word is at `at` ends a transaction, if it does.
function statementKind(text: string, at: number): 'commit' | 'prepare' | 'rollback' | undefined {
  const second = skipSpace(text, wordEnd(text, at))
  if (wordIs(text, at, 'COMMIT')) return wordIs(text, second, 'PREPARED') ? undefined : 'commit'
  if (wordIs(text, at, 'END')) return 'commit'
  // `PREPARE TRANSACTION 'gid'`, not a statement named `transaction` (`PREPARE transaction [(types)] AS ...`).
  if (wordIs(text, at, 'PREPARE')) {
    if (!wordIs(text, second, 'TRANSACTION')) return undefined
    const third = skipSpace(text, wordEnd(text, second))
    return third < 0 || wordIs(text, third, 'AS') || text.charCodeAt(third) === PAREN ? undefined : 'prepare'
  }
  if (wordIs(text, at, 'ROLLBACK') || wordIs(text, at, 'ABORT')) {
    // `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name` and `ROLLBACK PREPARED 'gid'` end nothing.
    const next = wordIs(text, second, 'WORK') || wordIs(text, second, 'TRANSACTION') ? skipSpace(text, wordEnd(text, second)) : second
    return wordIs(text, next, 'TO') || wordIs(text, next, 'PREPARED') ? undefined : 'rollback'
  }
  return undefined
}
