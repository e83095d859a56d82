// pg's own Query object for a statement, found through pg's queue fields (`_activeQuery`, `_queryQueue`), for
// what a failed text had completed before its failure: pg calls back with the error alone.
import type * as pg from 'pg'

// What is read of a pg.Client here (pg's own fields; a pg without them yields nothing).
interface QueueFields {
  readonly _activeQuery?: object | null
  readonly _queryQueue?: readonly object[]
}

/** How many statements wait in pg's queue: read before a `client.query()` call, for `statementTaken` after it. */
export function queuedCount(client: pg.ClientBase): number {
  return (client as unknown as QueueFields)._queryQueue?.length ?? 0
}

/**
 * The Query that a `client.query()` call just took (`activeBefore`, `queuedBefore`: pg's active statement and
 * `queuedCount` before the call): pushed last on pg's queue, or started at once. Undefined when pg took none (it
 * refused the call: a client not queryable) or keeps it elsewhere (pipeline mode).
 */
export function statementTaken(client: pg.ClientBase, activeBefore: object | undefined, queuedBefore: number): object | undefined {
  const { _activeQuery, _queryQueue } = client as unknown as QueueFields
  if (_queryQueue !== undefined && _queryQueue.length > queuedBefore) return _queryQueue[_queryQueue.length - 1]
  return _activeQuery !== undefined && _activeQuery !== null && _activeQuery !== activeBefore ? _activeQuery : undefined
}

/**
 * The command tags of the statements a Query's text completed (`['COMMIT']` for `COMMIT; SELECT 1/0`, read after
 * its failure). pg's fields: `_results`, an array once a text has answered more than one statement, else `_result`.
 */
export function completedCommands(query: object): string[] {
  const { _result, _results } = query as { _result?: { command?: unknown }; _results?: unknown }
  const results = Array.isArray(_results) ? (_results as { command?: unknown }[]) : _result === undefined ? [] : [_result]
  return results.flatMap((each) => (typeof each.command === 'string' && each.command !== '' ? [each.command] : []))
}

/** True once pg's Query has its CommandComplete (a statement of its text completed): pg has synced by then. */
export function hasCompleted(query: object | undefined): boolean {
  return query !== undefined && completedCommands(query).length > 0
}

/** The client's own pg Query class (`Client.Query`), if its pg has one. */
export function pgQueryClass(client: pg.ClientBase): (abstract new (...args: never[]) => object) | undefined {
  return (client.constructor as { Query?: abstract new (...args: never[]) => object }).Query
}

/**
 * True for a command tag that may have ended a transaction so that it took effect: `COMMIT` (also `COMMIT AND
 * CHAIN`), and `PREPARE`, which is `PREPARE TRANSACTION`'s tag as well as SQL `PREPARE`'s (the safe side).
 */
export function endsTransaction(command: string | null | undefined): boolean {
  return command === 'COMMIT' || command === 'PREPARE'
}
