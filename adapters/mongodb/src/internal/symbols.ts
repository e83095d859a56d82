/** The pool's internals for its leases and handles (kept off the public surface). */
export const poolAccess: unique symbol = Symbol('lifeguard.mongodb.access')
