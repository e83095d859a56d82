import { randomBytes } from 'node:crypto'
import { Queue, type Job, type Worker } from 'bullmq'
import { createRedisConnection } from '../../src/redis.js'

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A queue name no other test (or run) uses. */
export function uniqueQueueName(): string {
  return `lifeguard-test-${process.pid}-${randomBytes(4).toString('hex')}`
}

/** Keys matching `pattern`, read with SCAN on a connection of its own. */
export async function redisKeys(pattern: string): Promise<string[]> {
  const connection = createRedisConnection(redisUrl)
  try {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await connection.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
    return keys
  } finally {
    await connection.quit()
  }
}

/** How each job ended, by job id, as the worker reported it. */
export interface Outcomes {
  /** Resolves with the job once it completed or failed for good. */
  settled(jobId: string): Promise<{ job: Job; result?: unknown; error?: Error }>
}

/** Follows a worker's `completed` / `failed` events. */
export function followOutcomes(worker: Worker): Outcomes {
  const waiting = new Map<string, (outcome: { job: Job; result?: unknown; error?: Error }) => void>()
  const done = new Map<string, { job: Job; result?: unknown; error?: Error }>()
  const settle = (job: Job, outcome: { result?: unknown; error?: Error }): void => {
    const id = String(job.id)
    const full = { job, ...outcome }
    done.set(id, full)
    waiting.get(id)?.(full)
  }
  worker.on('completed', (job, result) => settle(job, { result }))
  worker.on('failed', (job, error) => {
    if (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)) settle(job, { error })
  })
  return {
    settled(jobId) {
      const known = done.get(jobId)
      if (known !== undefined) return Promise.resolve(known)
      return new Promise((resolve) => waiting.set(jobId, resolve))
    },
  }
}

/**
 * A queue on a unique name with its own connection; `cleanup()` obliterates it (every key of the queue)
 * and closes the connection.
 */
export function createTestQueue<D = unknown>(): { name: string; queue: Queue<D>; cleanup(): Promise<void> } {
  const name = uniqueQueueName()
  const connection = createRedisConnection(redisUrl)
  const queue = new Queue<D>(name, { connection })
  return {
    name,
    queue,
    async cleanup() {
      await queue.obliterate({ force: true })
      await queue.close()
      await connection.quit()
    },
  }
}
