// A pool that wants a writable server (`targetSessionAttrs: 'read-write'`) learns from a refused write
// (SQLSTATE 25006) that a server it holds connections to was demoted or made read-only.
import type { EventEmitter } from 'node:events'
import type * as pg from 'pg'
import { clientState, type PooledClient } from './pooled-client.js'

const readOnlyTransaction = '25006'

// What the server reported of itself (ParameterStatus): PostgreSQL 14 and later report both to every session,
// at its start and whenever they change (a reload that makes the server read-only included).
const reportedMode = Symbol('lifeguard.postgres.reportedMode')
interface ReportedMode {
  default_transaction_read_only?: string
  in_hot_standby?: string
}
type Reporting = pg.Client & { [reportedMode]?: ReportedMode }

/**
 * Records what the server reports of its read-only mode on `client`'s session. Called before it connects: the
 * first reports come with the startup. Nothing per query.
 */
export function watchReportedMode(client: pg.Client): void {
  const connection = (client as unknown as { connection?: EventEmitter }).connection
  connection?.on('parameterStatus', (message: { parameterName?: unknown; parameterValue?: unknown }) => {
    const { parameterName: name, parameterValue: value } = message
    if ((name !== 'default_transaction_read_only' && name !== 'in_hot_standby') || typeof value !== 'string') return
    const mode = ((client as Reporting)[reportedMode] ??= {})
    mode[name] = value
  })
}

// The server said the session is writable by default and not a standby: a 25006 on it is the caller's own
// read-only transaction (`BEGIN READ ONLY`, `SET TRANSACTION READ ONLY`). Unknown (a server before 14, a pooler
// that does not pass the reports on) is not writable: the refusal is taken at its word.
function reportedWritable(client: PooledClient): boolean {
  const mode = (client as Reporting)[reportedMode]
  return mode?.default_transaction_read_only === 'off' && mode.in_hot_standby === 'off'
}

/**
 * Watches a client's protocol messages for 25006 (ahead of pg's own handler) and reports its server once:
 * not for transactions begun `READ ONLY` by `transaction()`, nor for a caller's own read-only transaction on a
 * server that reports itself writable. A reload that makes the server read-only reports so only after the
 * statement it refused, before the server's next ReadyForQuery: on a session last reported writable the
 * refusal is decided there (see `readOnlyDecided`). One listener per connection; nothing per query.
 */
export function watchReadOnly(client: PooledClient, refused: (client: PooledClient) => void): void {
  const connection = (client as unknown as { connection?: EventEmitter }).connection
  if (connection === undefined) return
  const decide = (): void => {
    const state = client[clientState]
    if (!reportedWritable(client)) {
      state.readOnlyServer = serverOf(client)
      refused(client)
    }
  }
  connection.prependListener('errorMessage', (message: { code?: unknown }) => {
    const state = client[clientState]
    if (message.code !== readOnlyTransaction || state.readOnlyTransaction || state.readOnlyServer !== undefined || state.readOnlyDecision !== undefined) return
    if (!reportedWritable(client)) return decide()
    state.readOnlyDecision = new Promise<void>((resolve) => {
      const settle = (): void => {
        connection.off('readyForQuery', settle)
        connection.off('end', settle)
        state.readOnlyDecision = undefined
        decide()
        resolve()
      }
      connection.prependListener('readyForQuery', settle)
      connection.once('end', settle)
    })
  })
}

/**
 * Settles once the refusal `error` reports has been decided (the server's ReadyForQuery after it), so that
 * `readOnlyServerOf` answers for it; undefined when it is decided already (nearly always).
 */
export function readOnlyDecided(client: PooledClient, error: unknown): Promise<void> | undefined {
  const decision = client[clientState].readOnlyDecision
  return decision !== undefined && (error as { code?: unknown } | null)?.code === readOnlyTransaction ? decision : undefined
}

/** `host:port` of a client's server. */
export function serverOf(client: PooledClient): string {
  return `${client.host}:${client.port}`
}

/** The server that refused this error's write as read-only, if that is what it is. */
export function readOnlyServerOf(client: PooledClient, error: unknown): string | undefined {
  const server = client[clientState].readOnlyServer
  return server !== undefined && (error as { code?: unknown } | null)?.code === readOnlyTransaction ? server : undefined
}
