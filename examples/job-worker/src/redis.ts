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
 * started without Redis stops with a message instead of retrying forever. Each attempt gives up after
 * `attemptTimeoutMillis`: something that accepts the connection and never answers (a wrong port, a stuck
 * proxy) would otherwise hold it for good. `signal` ends the wait early (a shutdown during start-up).
 *
 * @throws {Error} naming where Redis was expected and how to start it, after the last attempt
 * @throws the signal's reason once it aborts
 */
export async function waitForRedis(url: string, options: { attempts: number; delayMillis?: number; attemptTimeoutMillis?: number; signal?: AbortSignal; log?: (line: string) => void }): Promise<void> {
  const { attempts, delayMillis = 500, attemptTimeoutMillis = 2_000, signal, log } = options
  let lastError: unknown
  for (let attempt = 1; attempt <= attempts; attempt++) {
    signal?.throwIfAborted()
    // One attempt per connection: no reconnects, no offline queue, so a refused connection fails at once. A
    // probe given up on is destroyed at once (`disconnectTimeout: 0`), not ended politely: ioredis waits up
    // to that long for the other side to close, holding the process after a shutdown.
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: attemptTimeoutMillis, disconnectTimeout: 0 })
    // The socket's own error (ECONNREFUSED, ENOTFOUND) says more than connect()'s 'Connection is closed'.
    let socketError: unknown
    probe.on('error', (error) => (socketError = error))
    const gaveUp = new AbortController()
    try {
      const answered = (async () => {
        await probe.connect()
        await probe.ping()
      })()
      const late = sleep(attemptTimeoutMillis, undefined, { signal: gaveUp.signal }).then(() => {
        throw Object.assign(new Error(`no answer within ${attemptTimeoutMillis}ms`), { code: 'ETIMEDOUT' })
      })
      // A shutdown during an attempt that gets no answer ends it at once, not after its timeout.
      const stopped = new Promise<never>((_resolve, reject) => {
        if (signal === undefined) return
        const stop = (): void => reject(signal.reason)
        signal.addEventListener('abort', stop, { once: true })
        gaveUp.signal.addEventListener('abort', () => signal.removeEventListener('abort', stop), { once: true })
      })
      // The losers settle later (the probe disconnected, the timer cancelled): nothing waits for them.
      answered.catch(() => undefined)
      late.catch(() => undefined)
      stopped.catch(() => undefined)
      await Promise.race([answered, late, stopped])
      await probe.quit()
      return
    } catch (error) {
      // Stopped: the signal's reason, and no word about the attempt it cut short.
      if (signal?.aborted === true) {
        if (probe.status !== 'end') probe.disconnect()
        throw signal.reason
      }
      lastError = socketError ?? error
      // Not once it has ended (a refused connection): ioredis would then wait for a 'close' that came already.
      if (probe.status !== 'end') probe.disconnect()
    } finally {
      gaveUp.abort()
    }
    if (attempt < attempts) {
      if (attempt === 1) log?.(`Redis at ${redactConnectionString(url)} is not answering (${describe(lastError)}); trying ${attempts - 1} more time(s)`)
      // The signal's own reason, not the timer's AbortError.
      await sleep(delayMillis, undefined, signal === undefined ? undefined : { signal }).catch((error: unknown) => {
        signal?.throwIfAborted()
        throw error
      })
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
