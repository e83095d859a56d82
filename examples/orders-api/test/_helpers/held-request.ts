import pg from 'pg'
import { eventually, request } from './http.js'
import { adminQuery, localDatabaseUrl } from './service-process.js'

/** A `GET /orders` held in PostgreSQL on a table lock until `release()`. */
export interface HeldRequest {
  /** The response, or the error of a request cut off; never rejects. */
  readonly outcome: Promise<{ status: number } | Error>
  /** Lets the request finish (commits the lock's transaction) and ends the session holding it. */
  release(): Promise<void>
}

/**
 * Sends `GET /orders` to `url` while another session holds the orders table of `schema`, and resolves once the
 * request waits on that lock in PostgreSQL (`appName` is the service's `application_name`). `databaseUrl` is
 * the server the service uses (default: the machine's).
 *
 * @throws {Error} when the request does not reach the lock within 5 s
 */
export async function holdRequest(url: string, schema: string, appName: string, databaseUrl = localDatabaseUrl): Promise<HeldRequest> {
  const blocker = new pg.Client({ connectionString: databaseUrl, application_name: `${appName}-blocker` })
  // The lock's session may be ended under it (a forced stop of an embedded server): nothing to report.
  blocker.on('error', () => undefined)
  await blocker.connect()
  const release = async (): Promise<void> => {
    await blocker.query('COMMIT').catch(() => undefined)
    await blocker.end().catch(() => undefined)
  }
  try {
    await blocker.query('BEGIN')
    await blocker.query(`LOCK TABLE "${schema}".orders IN ACCESS EXCLUSIVE MODE`)
    const outcome = request(`${url}/orders`).catch((error: Error) => error)
    // From another session: within the blocker's transaction, pg_stat_activity would be read once.
    const waiting = await eventually(async () => (await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [appName], databaseUrl)).length > 0)
    if (!waiting) throw new Error('The request did not reach PostgreSQL within 5 s.')
    return { outcome, release }
  } catch (error) {
    await release()
    throw error
  }
}
