import type pg from 'pg'
import { abortable, openClient } from './connect-server.js'
import { endClient } from './end-client.js'
import { readSessionRole } from './session-target.js'
import type { PgPoolSettings } from './settings.js'

/**
 * Asks a server, on a connection of its own, whether it takes writes: after a refused write (25006) that
 * may be the caller's own doing (`SET TRANSACTION READ ONLY`, a query builder's read-only transaction)
 * rather than the server's. True when a fresh session on it is writable; false when it is a standby or
 * read-only; undefined when it could not be asked (then the pool treats it as read-only, as it did before
 * asking).
 */
export async function serverStillWritable(settings: PgPoolSettings, host: string, port: number): Promise<boolean | undefined> {
  const config: pg.ClientConfig = { ...settings.clientConfig, host, port }
  // The password is kept out of sight (not enumerable), so a spread leaves it behind.
  if (settings.clientConfig.password !== undefined) Object.defineProperty(config, 'password', { value: settings.clientConfig.password, enumerable: false, writable: true, configurable: true })
  const signal = AbortSignal.timeout(settings.connectTimeoutMillis > 0 ? settings.connectTimeoutMillis : 10_000)
  try {
    const opened = await openClient(settings.Client, config, signal)
    try {
      const role = await abortable(signal, opened.client, () => readSessionRole(opened.client))
      return !role.readOnly
    } finally {
      opened.detach()
      opened.client.on('error', () => undefined)
      void endClient(opened.client)
    }
  } catch {
    return undefined
  }
}
