// The `pooler: 'pgbouncer-transaction'` guard: refuses statements that need a server session of their
// own before anything is sent. Installed only when the option is set, so pools without it pay nothing.
import type * as pg from 'pg'
import { SessionFeatureError, type SessionFeature } from '../errors.js'
import { sessionFeatureOf } from './session-features.js'
import type { PoolerSettings } from './settings.js'

/** Checks one query (text, config or submittable); the error to refuse it with, or undefined. */
export type SessionGuard = (query: unknown) => SessionFeatureError | undefined

// Applications send the same few statements over and over: remember the verdicts, within reason. Only short
// texts: a statement with its values inlined is seldom sent twice, and a thousand of a megabyte each were kept.
const maxRemembered = 1000
const maxRememberedLength = 2048

/** The guard of a pool behind PgBouncer in transaction mode. */
export function sessionGuard(pool: string, pooler: PoolerSettings): SessionGuard {
  const verdicts = new Map<string, SessionFeature | null>()
  const featureOf = (text: string): SessionFeature | undefined => {
    let verdict = verdicts.get(text)
    if (verdict === undefined) {
      verdict = sessionFeatureOf(text) ?? null
      if (text.length > maxRememberedLength) return verdict ?? undefined
      if (verdicts.size >= maxRemembered) verdicts.clear()
      verdicts.set(text, verdict)
    }
    return verdict ?? undefined
  }
  return (query) => {
    if (typeof query === 'string') {
      const feature = featureOf(query)
      return feature === undefined ? undefined : new SessionFeatureError(pool, feature)
    }
    if (typeof query !== 'object' || query === null) return undefined
    // pg-query-stream keeps its SQL on the pg-cursor it wraps (`.cursor.text`), not on itself.
    const { text: own, name, cursor } = query as { text?: unknown; name?: unknown; cursor?: { text?: unknown } | null }
    const text = typeof own === 'string' ? own : cursor?.text
    if (typeof name === 'string' && name !== '' && !pooler.namedPreparedStatements) return new SessionFeatureError(pool, 'named-statement')
    const feature = typeof text === 'string' ? featureOf(text) : undefined
    return feature === undefined ? undefined : new SessionFeatureError(pool, feature)
  }
}

type QueryMethod = (this: pg.Client, ...args: unknown[]) => unknown
interface Submittable {
  submit: unknown
  handleError?: (error: Error) => void
  emit?: (event: 'error', error: Error) => void
}

/**
 * Puts the guard in front of a client's `query`, for the statements a caller sends on a client it
 * holds (`connect()`, transactions). A refused statement is answered the way pg answers a failed one
 * (rejected promise, callback, or the submittable's error), and never reaches the server.
 */
export function guardClient(client: pg.Client, guard: SessionGuard): void {
  const query = client.query as unknown as QueryMethod
  const guarded: QueryMethod = function guardedQuery(this: pg.Client, ...args: unknown[]): unknown {
    const [config, values, callback] = args
    const refusal = config === null || config === undefined ? undefined : guard(config)
    if (refusal === undefined) return query.apply(this, args)
    const submittable = config as Submittable
    if (typeof submittable.submit === 'function') {
      process.nextTick(() => (submittable.handleError !== undefined ? submittable.handleError(refusal) : submittable.emit?.('error', refusal)))
      return submittable
    }
    const done = typeof values === 'function' ? values : callback
    if (typeof done === 'function') {
      process.nextTick(done as (error: Error) => void, refusal)
      return undefined
    }
    return Promise.reject(refusal)
  }
  client.query = guarded as unknown as pg.Client['query']
}
