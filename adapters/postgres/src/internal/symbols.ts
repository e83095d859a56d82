/** Where either pool face (`PostgresPool`, `Pool`) keeps the pool core the request-scoped handle uses. */
export const poolCore: unique symbol = Symbol('lifeguard.postgres.core')

/** Ends a transaction object so late queries through it fail instead of touching a returned connection. */
export const finishTransaction: unique symbol = Symbol('lifeguard.postgres.finish')
