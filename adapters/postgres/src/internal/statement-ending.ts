// How a text of a transaction's callback left the transaction: told by the server's command tags (pg answers a
// text of several statements, `INSERT ...; COMMIT`, with one result each), the session's status after them, and
// the text itself where the tags cannot tell (see `transactionControl`).
import type * as pg from 'pg'
import type { QueryText } from '../query-types.js'
import { transactionControl, type TransactionControl } from './transaction-control.js'

/** The server's command tag for a statement that ends a transaction (`PREPARE` for `PREPARE TRANSACTION`). */
export type EndingCommand = 'COMMIT' | 'ROLLBACK' | 'PREPARE'

/** What a text that completed did to the transaction it ran in. */
export interface CompletedEnding {
  /** It ended the transaction with this statement (as the server answered it). */
  readonly endedWith?: EndingCommand
  /** Its `COMMIT` or `PREPARE TRANSACTION` was answered with ROLLBACK: a statement had failed before it. */
  readonly commitRefused?: boolean
  /**
   * A `COMMIT` or `PREPARE TRANSACTION` of it took effect without being its end: `COMMIT AND CHAIN` or `COMMIT;
   * BEGIN` (a transaction goes on), or one before the `ROLLBACK` that ended it (`COMMIT; ROLLBACK`).
   */
  readonly committed?: boolean
  /** Statements followed the `ROLLBACK` that ended it in the same text: they ran outside it, each committed. */
  readonly ranAfterEnd?: boolean
  /** A `PREPARE TRANSACTION` followed that `ROLLBACK`, which may have been `ROLLBACK TO SAVEPOINT`: maybe prepared. */
  readonly preparedAfterEnd?: boolean
}

/**
 * True when a result's tags may tell of an end (`COMMIT`, `ROLLBACK`, `PREPARE`): the one check every
 * statement pays, a comparison or three; `completedEnding` reads the rest.
 */
export function mayTellOfEnd(result: pg.QueryResult | readonly pg.QueryResult[]): boolean {
  if (!Array.isArray(result)) return isEndingTag((result as pg.QueryResult).command)
  return (result as readonly pg.QueryResult[]).some((each) => isEndingTag(each.command))
}

function isEndingTag(command: unknown): boolean {
  return command === 'COMMIT' || command === 'ROLLBACK' || command === 'PREPARE'
}

/**
 * What the text `query`, every statement of which completed with `result`, did to the transaction, the session
 * being in `status` after it (pg's, read when the result came: fresh then). Undefined when it ended nothing
 * and committed nothing, or when pg gives no status.
 *
 * Still in a transaction (`'T'`, `'E'`), the text may have ended one and begun the next: `ROLLBACK AND CHAIN` or
 * `ROLLBACK; BEGIN` ends it rolled back (the server tags `ROLLBACK TO SAVEPOINT` the same, so the text tells);
 * `COMMIT AND CHAIN` or `COMMIT; BEGIN` committed what came before and the callback goes on in the next one.
 * Idle (`'I'`), the last `COMMIT` or `ROLLBACK` ended it (else a `PREPARE`). Tags alone cannot tell `ROLLBACK TO
 * SAVEPOINT s; PREPARE TRANSACTION 'g'` (prepared) from `ROLLBACK; PREPARE TRANSACTION 'g'` (rolled back, the
 * PREPARE refused): such a `PREPARE` after the `ROLLBACK` chosen is reported (`preparedAfterEnd`).
 */
export function completedEnding(result: pg.QueryResult | readonly pg.QueryResult[], query: QueryText, status: string | undefined): CompletedEnding | undefined {
  if (status === undefined) return undefined
  const tags = (Array.isArray(result) ? (result as readonly pg.QueryResult[]) : [result as pg.QueryResult]).map((each) => each.command)
  const control = transactionControl(query)
  // Every statement completed: one that commits (or prepares) with no such tag was answered ROLLBACK.
  const refused = tags.includes('ROLLBACK') && ((control.commits && !tags.includes('COMMIT')) || (control.prepares && !tags.includes('PREPARE')))
  if (status !== 'I') {
    const committed = tags.some((tag) => tookEffect(tag, control))
    if (refused) return { commitRefused: true, committed }
    if (control.rollsBack && tags.includes('ROLLBACK')) return { endedWith: 'ROLLBACK', committed }
    return committed ? { committed } : undefined
  }
  let index = tags.findLastIndex((tag) => tag === 'COMMIT' || tag === 'ROLLBACK')
  if (index < 0) index = tags.lastIndexOf('PREPARE')
  if (index < 0) return undefined
  const command = tags[index] as EndingCommand
  if (command !== 'ROLLBACK') return { endedWith: command }
  const committed = tags.slice(0, index).some((tag) => tookEffect(tag, control))
  if (refused) return { commitRefused: true, committed }
  const after = tags.slice(index + 1)
  return { endedWith: command, committed, ranAfterEnd: after.length > 0, preparedAfterEnd: control.prepares && after.includes('PREPARE') }
}

/** What a text that failed had done before its failure, from the tags of the statements it completed. */
export interface FailedEnding {
  /** A `COMMIT` (`COMMIT AND CHAIN` too) or `PREPARE TRANSACTION` of it completed: it took effect. */
  readonly committed: boolean
  /** A `ROLLBACK` of it ended the transaction (`ROLLBACK; SELECT 1/0`, `ROLLBACK AND CHAIN; ...`). */
  readonly rolledBack: boolean
}

/**
 * What the text `query` had done before it failed, its completed statements tagged `completed`. What came after
 * that end in the same text ran in an implicit transaction, which the failure rolled back (or in the chained one).
 * Only those statements are read from the text: the one that failed took no effect, and those after it never ran
 * (`SELECT 1/0; ROLLBACK` ended nothing; `PREPARE q AS ...; PREPARE TRANSACTION 'g'` refused prepared nothing).
 */
export function failedEnding(completed: readonly string[], query: QueryText): FailedEnding {
  if (completed.length === 0) return { committed: false, rolledBack: false }
  const control = transactionControl(query, completed.length)
  return { committed: completed.some((tag) => tookEffect(tag, control)), rolledBack: control.rollsBack && completed.includes('ROLLBACK') }
}

// PREPARE is SQL PREPARE's tag too (a statement kept in the session, which ends nothing): it counts only when the
// text has a PREPARE TRANSACTION.
function tookEffect(tag: string, control: TransactionControl): boolean {
  return tag === 'COMMIT' || (tag === 'PREPARE' && control.prepares)
}
