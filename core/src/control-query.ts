/**
 * A pool's own control query: `pool[controlQuery](text, values)` runs `text` on the next connection to come
 * free, ahead of every request waiting. A connection budget counts through it: its count is needed when the
 * pool is short, which is when the queue is long, and behind that queue it would come too late to help.
 * Registered with `Symbol.for`, so two copies of core agree on it.
 */
export const controlQuery: unique symbol = Symbol.for('lifeguard.controlQuery') as never

/** What a pool's `[controlQuery]` method does: one query, served before every waiting request. */
export type ControlQuery = (text: string, values: unknown[]) => Promise<{ rows: readonly Record<string, unknown>[] }>
