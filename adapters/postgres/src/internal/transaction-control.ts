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
 * Which statements of `query` may end the transaction it runs in. Nothing for a query config without text (a
 * named statement run again). An `END` closing a `BEGIN ATOMIC` body counts as a commit: the safe side.
 *
 * @example
 * transactionControl("-- checkout\nPREPARE TRANSACTION 'g1'") // { commits: false, prepares: true, rollsBack: false }
 * transactionControl("ROLLBACK TO SAVEPOINT s; COMMIT PREPARED 'g1'") // all false
 */
export function transactionControl(query: SqlText): TransactionControl {
  const text = typeof query === 'string' ? query : query?.text
  let commits = false
  let prepares = false
  let rollsBack = false
  if (typeof text !== 'string') return { commits, prepares, rollsBack }
  let at = skipSpace(text, 0)
  while (at >= 0 && at < text.length) {
    const kind = statementKind(text, at)
    if (kind === 'commit') commits = true
    else if (kind === 'prepare') prepares = true
    else if (kind === 'rollback') rollsBack = true
    // On to the `;` that ends the statement (outside strings, quoted identifiers and comments), and past it.
    while (at >= 0 && at < text.length && text.charCodeAt(at) !== SEMICOLON) at = skipSpace(text, tokenEnd(text, at))
    if (at >= 0) at = skipSpace(text, at + 1)
  }
  return { commits, prepares, rollsBack }
}

/** True when a statement of `query` may commit the transaction it runs in: a `COMMIT`, `END` or `PREPARE TRANSACTION`. */
export function mayCommit(query: SqlText): boolean {
  const control = transactionControl(query)
  return control.commits || control.prepares
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
