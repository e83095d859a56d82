// A pool that wants a writable server (`targetSessionAttrs: 'read-write'`) learns from a refused write
// (SQLSTATE 25006) that a server it holds connections to was demoted or made read-only.
import type { EventEmitter } from 'node:events'
import { clientState, type PooledClient } from './pooled-client.js'

const readOnlyTransaction = '25006'

/**
 * Watches a client's protocol messages for 25006 (ahead of pg's own handler, so the flag is set before
 * the query's caller hears of the error) and reports its server once: not for transactions begun
 * `READ ONLY`, whose refused writes are the caller's own doing. One listener per connection; nothing
 * per query.
 */
export function watchReadOnly(client: PooledClient, refused: (client: PooledClient) => void): void {
  const connection = (client as unknown as { connection?: EventEmitter }).connection
  connection?.prependListener('errorMessage', (message: { code?: unknown }) => {
    const state = client[clientState]
    if (message.code !== readOnlyTransaction || state.readOnlyTransaction || state.readOnlyServer !== undefined) return
    state.readOnlyServer = serverOf(client)
    refused(client)
  })
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
