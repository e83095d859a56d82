// Test support for the real PostgreSQL server: an observer that counts a test's connections on the server
// over one connection of its own, and a closed-loop load. (Connection settings and unique names: test-kit.)
import { pgConfig } from '@lifeguard/test-kit'
import pg from 'pg'

export { pgConfig, uniqueAppName } from '@lifeguard/test-kit'

/** Counts server backends by application_name over its own connection (named apart, so never counted). */
export class ConnectionObserver {
  readonly #client = new pg.Client({ ...pgConfig(), application_name: 'lifeguard-autoscale-observer' })
  #connected: Promise<void> | undefined

  async count(appName: string): Promise<number> {
    this.#connected ??= this.#client.connect().then(() => undefined)
    await this.#connected
    const result = await this.#client.query<{ count: number }>('SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1', [appName])
    return result.rows[0]?.count ?? 0
  }

  /** Polls until the count is `expected`; throws naming both counts after `timeoutMillis`. */
  async waitFor(appName: string, expected: (count: number) => boolean, what: string, timeoutMillis = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const count = await this.count(appName)
      if (expected(count)) return count
      if (Date.now() >= deadline) throw new Error(`Expected ${what} server connections for '${appName}', still ${count} after ${timeoutMillis}ms.`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  async end(): Promise<void> {
    if (this.#connected !== undefined) await this.#client.end()
  }
}

/**
 * Closed-loop load: `workers()` workers (re-read as workers finish, so the level can change) each run
 * `work` back to back until `until` passes. Counts successes and failures.
 */
export async function closedLoop(work: () => Promise<unknown>, workers: number, millis: number, tally: { ok: number; failed: number; errors: unknown[] }): Promise<void> {
  const end = Date.now() + millis
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      try {
        await work()
        tally.ok++
      } catch (error) {
        tally.failed++
        tally.errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: workers }, worker))
}
