import type { PostgresHandle } from '@lifeguard/postgres'
import { UnrecoverableError, type Job } from 'bullmq'
import type { JobHandler } from './job-worker.js'

/** The `charge` job's data. */
export interface ChargeJob {
  orderId: string
  amountCents: number
}

/** Creates the `payments` table in `schema` when missing. */
export async function migrateBilling(db: PostgresHandle, schema: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`job-worker:migrate:${schema}`])
    await tx.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
    await tx.query(`CREATE TABLE IF NOT EXISTS "${schema}".payments (
      job_id text PRIMARY KEY, -- the job's key (see jobKey)
      order_id text NOT NULL,
      amount_cents bigint NOT NULL CHECK (amount_cents > 0),
      charged_at timestamptz NOT NULL DEFAULT now()
    )`)
  })
}

/**
 * What identifies one job across its retries and nothing else. BullMQ's own ids are counters that start again
 * at 1 in another queue and after Redis lost its data (keyed by the id alone, a new job that got an old id was
 * taken for a retry, and its charge was dropped), so they are keyed with the queue and the time the job was
 * added. An id the producer chose (BullMQ refuses whole numbers there) is its own key: adding the same job
 * again must not charge twice.
 */
export function jobKey(job: Pick<Job, 'queueName' | 'id' | 'timestamp'>): string {
  const id = job.id ?? '?'
  return /^\d+$/.test(id) ? `${job.queueName}:${id}:${job.timestamp}` : `${job.queueName}:${id}`
}

/**
 * The worker's job handlers. `charge` records a payment once per job (see `jobKey`), so a retry after a crash
 * between the insert and BullMQ's acknowledgement does not charge twice.
 */
export function billingJobs(schema: string): Record<string, JobHandler> {
  const charge: JobHandler<ChargeJob, { jobId: string; charged: boolean }> = async (data, context, job) => {
    if (!isChargeJob(data)) {
      // Data that can never succeed: BullMQ fails the job at once instead of retrying it.
      throw new UnrecoverableError(`Could not charge job ${job.id ?? '?'}. Expected { orderId: a string of 1 to 200 characters without NUL, amountCents: a safe integer > 0 }.`)
    }
    const { rowCount } = await context.postgres.query(
      `INSERT INTO "${schema}".payments (job_id, order_id, amount_cents) VALUES ($1, $2, $3) ON CONFLICT (job_id) DO NOTHING`,
      [jobKey(job), data.orderId, data.amountCents],
    )
    return { jobId: String(job.id), charged: rowCount === 1 }
  }
  return { charge }
}

// What the table takes: PostgreSQL text holds no NUL and stores an unpaired surrogate as U+FFFD (so two
// order ids would become one), and an amount above 2^53 is no exact number here.
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function isChargeJob(data: unknown): data is ChargeJob {
  const { orderId, amountCents } = (data ?? {}) as Partial<ChargeJob>
  return typeof orderId === 'string' && orderId.length > 0 && orderId.length <= 200 && !unstorable.test(orderId) && Number.isSafeInteger(amountCents) && (amountCents as number) > 0
}
