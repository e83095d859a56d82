import type { EventEmitter } from 'node:events'
import type { PooledClient } from './pooled-client.js'

/**
 * Calls `ended` with the server's error when the server ends the client's session: a FATAL or PANIC error
 * message (57P01 on a restart or `pg_terminate_backend`, 57P05 `idle_session_timeout`, 25P03), which comes a
 * read before the socket closes. Ahead of pg's own handler, so the session is known to be gone before the
 * statement's caller hears of it. One listener per connection; nothing per query.
 */
export function watchSessionEnd(client: PooledClient, ended: (error: Error) => void): void {
  const connection = (client as unknown as { connection?: EventEmitter }).connection
  connection?.prependListener('errorMessage', (message: Error & { severity?: unknown }) => {
    if (message.severity === 'FATAL' || message.severity === 'PANIC') ended(message)
  })
}
