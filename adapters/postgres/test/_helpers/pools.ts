// Test pools: each on its own application_name, so the server-side connection count of one test
// file can be checked on its own.
import { createPostgresPool, type PostgresPool, type PostgresPoolOptions } from '../../src/index.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'

/** A pool on the test server with a fresh application_name. */
export function testPool(topic: string, options: Partial<PostgresPoolOptions> = {}): { pool: PostgresPool; appName: string } {
  const appName = options.applicationName ?? uniqueAppName(topic)
  const { host, port, user, database, password } = pgConfig()
  const pool = createPostgresPool({
    name: topic,
    host,
    port,
    user,
    database,
    ...(password === undefined ? {} : { password }),
    applicationName: appName,
    ...options,
  })
  return { pool, appName }
}

/** Closes the pool and waits until the server shows no connection for its application_name. */
export async function closeAndCheck(pool: PostgresPool, appName: string): Promise<void> {
  await pool.close({ timeoutMillis: 1000 })
  await waitForConnectionCount(appName, 0)
}

/** Resolves after `millis`. */
export function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis))
}

/** Polls `check` until it is true (or throws after `timeoutMillis`, naming `what`). */
export async function until(what: string, check: () => boolean, timeoutMillis = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await sleep(5)
  }
}

/**
 * `promise`, or a rejection naming `what` when it has not settled within `millis` of real time: a bound on a
 * hang (a test failure), never a timing check of the code under test.
 */
export function settlesWithin<T>(what: string, promise: Promise<T>, millis = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${millis} ms.`)), millis)
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

/** How `promise` has settled by now (after a turn of the event loop, for what the last step started), else `'pending'`. */
export async function outcomeNow(promise: Promise<unknown>): Promise<unknown> {
  const pending = Symbol('pending')
  return Promise.race([promise, new Promise((resolve) => setImmediate(() => resolve(pending)))]).then((value) => (value === pending ? 'pending' : value))
}
