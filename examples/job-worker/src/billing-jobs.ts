import type { PostgresHandle } from '@lifeguard/postgres'
import { UnrecoverableError } from 'bullmq'
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
      job_id text PRIMARY KEY,
      order_id text NOT NULL,
      amount_cents bigint NOT NULL CHECK (amount_cents > 0),
      charged_at timestamptz NOT NULL DEFAULT now()
    )`)
  })
}

/**
 * The worker's job handlers. `charge` records a payment once per job: keyed by the job id, so a retry
 * after a crash between the insert and BullMQ's acknowledgement does not charge twice.
 */
export function billingJobs(schema: string): Record<string, JobHandler> {
  const charge: JobHandler<ChargeJob, { jobId: string; charged: boolean }> = async (data, context, job) => {
    if (typeof data?.orderId !== 'string' || !Number.isInteger(data.amountCents) || data.amountCents <= 0) {
      // Data that can never succeed: BullMQ fails the job at once instead of retrying it.
      throw new UnrecoverableError(`Could not charge job ${job.id ?? '?'}. Expected { orderId: string, amountCents: integer > 0 }.`)
    }
    const { rowCount } = await context.postgres.query(
      `INSERT INTO "${schema}".payments (job_id, order_id, amount_cents) VALUES ($1, $2, $3) ON CONFLICT (job_id) DO NOTHING`,
      [job.id, data.orderId, data.amountCents],
    )
    return { jobId: String(job.id), charged: rowCount === 1 }
  }
  return { charge }
}
