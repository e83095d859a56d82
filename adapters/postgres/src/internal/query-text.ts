import { InvalidOptionError } from '@lifeguard/core'
import { checkOption } from '@lifeguard/core/adapter'

/**
 * True for what pg can run: SQL text or a query config (an object). pg sends a function, or any other value,
 * as an empty query and resolves with an empty result, so a mistake would pass unnoticed.
 */
export function isQueryText(text: unknown): boolean {
  return typeof text === 'string' || (typeof text === 'object' && text !== null)
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
