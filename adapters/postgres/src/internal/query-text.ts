import { InvalidOptionError } from '@lifeguard/core'
import { checkOption } from '@lifeguard/core/adapter'

/**
 * True for what pg can run: SQL text or a query config (an object). pg sends a function, or any other value,
 * as an empty query and resolves with an empty result, so a mistake would pass unnoticed.
 */
export function isQueryText(text: unknown): boolean {
  return typeof text === 'string' || (typeof text === 'object' && text !== null)
}

/**
 * True for a submittable (pg-cursor, pg-query-stream, pg-copy-streams): pg hands it the connection and calls
 * no query callback for it, so a promise made for it would never settle, nor give its connection back.
 */
export function isSubmittable(text: unknown): boolean {
  return typeof text === 'object' && text !== null && typeof (text as { submit?: unknown }).submit === 'function'
}

/** The refusal of a submittable: `what` failed (`run the query on pool 'orders'`), `instead` says where it runs. */
export function submittableRefused(what: string, instead: string): InvalidOptionError {
  return new InvalidOptionError('text', 'SQL text or a query config', `Could not ${what}. A submittable (pg-cursor, pg-query-stream) runs on a client: ${instead}.`)
}

/** pg.Pool's message for `query(callback)`, given for anything that is not SQL text or a query config. */
export function notAQuery(): InvalidOptionError {
  return new InvalidOptionError('text', 'SQL text or a query config', 'Could not run the query. Passing a function as the first parameter to pool.query is not supported: pass SQL text or a query config.')
}

// pg answers a missing callback (`undefined` or `null`) with a promise and calls anything else, so a
// callback that is no function would throw later, out of reach of the caller: it is refused here.
export function checkCallback(where: string, callback: unknown): void {
  if (callback !== undefined && callback !== null) checkOption(where, 'callback', callback, { type: 'function' })
}
