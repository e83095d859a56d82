import { Redis } from 'ioredis'

/**
 * A Redis connection for BullMQ at `url` (default `redis://127.0.0.1:6379`). Give each `Queue` and
 * `Worker` its own and `quit()` it after closing them: BullMQ does not close a connection it was given.
 *
 * @example
 * const connection = createRedisConnection(process.env.REDIS_URL)
 * const queue = new Queue('billing', { connection })
 */
export function createRedisConnection(url = 'redis://127.0.0.1:6379'): Redis {
  // BullMQ's workers block on Redis; it requires maxRetriesPerRequest: null on their connections.
  return new Redis(url, { maxRetriesPerRequest: null })
}
