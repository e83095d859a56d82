/** The pool's internal checkout, for the request-scoped handle (takes the operation's context). */
export const acquireClient: unique symbol = Symbol('lifeguard.postgres.acquire')

/** Ends a transaction object so late queries through it fail instead of touching a returned connection. */
export const finishTransaction: unique symbol = Symbol('lifeguard.postgres.finish')

/** The pool's internal one-query checkout (one promise for checkout, query and release). */
export const runQuery: unique symbol = Symbol('lifeguard.postgres.query')
