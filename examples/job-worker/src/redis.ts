import { setTimeout as sleep } from 'node:timers/promises'
import { redactConnectionString } from '@lifeguard/core/adapter'
import { Redis } from 'ioredis'

/**
 * A Redis connection for BullMQ at `url` (default `redis://127.0.0.1:6379`). Give each `Queue` and
 * `Worker` its own and `quit()` it after closing them: BullMQ does not close a connection it was given.
 * Once running, it reconnects for as long as it takes (a Redis restart must not stop the worker).
 *
 * @example
 * const connection = createRedisConnection(process.env.REDIS_URL)
 * const queue = new Queue('billing', { connection })
 */
export function createRedisConnection(url = 'redis://127.0.0.1:6379'): Redis {
  // BullMQ's workers block on Redis; it requires maxRetriesPerRequest: null on their connections.
  return new Redis(url, { maxRetriesPerRequest: null })
}

/**
 * Waits until Redis at `url` answers `PING`, trying `attempts` times `delayMillis` apart, so that a worker
 * started without Redis stops with a message instead of retrying forever.
 *
 * @throws {Error} naming where Redis was expected and how to start it, after the last attempt
 */
export async function waitForRedis(url: string, options: { attempts: number; delayMillis?: number; log?: (line: string) => void }): Promise<void> {
  const { attempts, delayMillis = 500, log } = options
  let lastError: unknown
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // One attempt per connection: no reconnects, no offline queue, so a refused connection fails at once.
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 2_000 })
    // The socket's own error (ECONNREFUSED, ENOTFOUND) says more than connect()'s 'Connection is closed'.
    let socketError: unknown
    probe.on('error', (error) => (socketError = error))
    try {
      await probe.connect()
      await probe.ping()
      await probe.quit()
      return
    } catch (error) {
      lastError = socketError ?? error
      probe.disconnect()
    }
    if (attempt < attempts) {
      if (attempt === 1) log?.(`Redis at ${redactConnectionString(url)} is not answering (${describe(lastError)}); trying ${attempts - 1} more time(s)`)
      await sleep(delayMillis)
    }
  }
  throw new Error(
    `Could not reach Redis at ${redactConnectionString(url)} after ${attempts} attempt(s) (${describe(lastError)}). ` +
      'Start it (`redis-server`, or `docker run -d -p 6379:6379 redis:7`) or set REDIS_URL.',
    { cause: lastError },
  )
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code ?? (error instanceof Error ? error.message : String(error))
}
