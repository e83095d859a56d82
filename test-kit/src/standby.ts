// A streaming standby of a private cluster, for failover tests: its own folder and port, filled by
// pg_basebackup from the primary, following it until `promote()`.
import { join } from 'node:path'
import { appendAsOwner, createCluster, runAsOwner, type PrivateCluster } from './private-cluster.js'

/**
 * Starts a hot standby of `primary`: `pg_basebackup -R` (as the server's user) into a temporary
 * folder, its own free port, streaming replication from then on. Any private cluster can be a
 * primary: initdb's `pg_hba.conf` already trusts replication connections from 127.0.0.1, and
 * PostgreSQL's defaults (`wal_level = replica`, `max_wal_senders = 10`) allow them. `destroy()` it
 * like any cluster; `promote()` makes it a primary.
 *
 * @example
 * const primary = await startPrivateCluster()
 * const standby = await startStandby(primary)
 * await primary.stop()
 * await standby.promote()
 */
export async function startStandby(primary: PrivateCluster): Promise<PrivateCluster> {
  return createCluster(async ({ binDir, folder, pgdata, port }) => {
    await runAsOwner(join(binDir, 'pg_basebackup'), ['-h', primary.host, '-p', String(primary.port), '-U', 'postgres', '-D', pgdata, '-R', '-X', 'stream', '-c', 'fast', '--no-sync'])
    // The copy carries the primary's port and socket folder: later lines win.
    await appendAsOwner(join(pgdata, 'postgresql.conf'), [`port = ${port}`, `unix_socket_directories = '${folder}'`, 'hot_standby = on'])
  })
}
