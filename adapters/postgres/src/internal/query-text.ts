import { InvalidOptionError } from '@lifeguard/core'
import { checkOption, satisfiesRule } from '@lifeguard/core/adapter'
import { clientTimerRules } from './pool-hook-rules.js'

/**
 * True for what pg can run: SQL text or a query config (an object). pg fails anything else only once it has
 * a connection (a function it sends as an empty query), so a mistake would wait for a checkout first.
 */
export function isQueryText(text: unknown): boolean {
  return typeof text === 'string' || (typeof text === 'object' && text !== null)
}

/**
 * Why pg cannot run `text` as it should, or `undefined`: it is neither SQL text nor a query config, or it is
 * a config whose own `query_timeout` is no timer (pg hands it to `setTimeout` unchecked, and `2 ** 31` or
 * `'5s'` fire after 1 ms: the query would time out, and its connection be closed, on every call).
 */
export function queryRefusal(text: unknown): InvalidOptionError | undefined {
  if (!isQueryText(text)) return notAQuery()
  if (typeof text === 'string') return undefined
  const timeout = (text as { query_timeout?: unknown }).query_timeout
  if (satisfiesRule(timeout, clientTimerRules.query_timeout)) return undefined
  try {
    checkOption('the query', 'query_timeout', timeout, clientTimerRules.query_timeout)
  } catch (error) {
    return error as InvalidOptionError
  }
  return undefined
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
