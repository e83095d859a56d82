import { performance } from 'node:perf_hooks'
import { PoolWarmupError, type WarmupOptions, type WarmupReport } from '@lifeguard/core'
import { validateOptions } from '@lifeguard/core/adapter'
import { clientState, type TrackedClient } from './tracked-client.js'

/** What `warmupPool` needs from its pool. */
export interface WarmupPlan {
  pool: string
  target: string
  /** `minSize`, at least 1. */
  defaultConnections: number
  maxSize: number
  defaultTimeoutMillis: number
  options: WarmupOptions
  /** Opens one connection of its own by the deadline (not a checkout). */
  connect(deadline: number): Promise<TrackedClient>
  /** Records a failed validation; returns the error redacted. */
  failed(error: unknown): Error
}

/**
 * Opens the connections in parallel, holding each until all are settled so they are distinct, checks
 * each with `SELECT 1`, then returns them to the pool idle.
 *
 * @throws {PoolWarmupError} when none could open
 * @throws {InvalidOptionError} for bad options
 */
export async function warmupPool(plan: WarmupPlan): Promise<WarmupReport> {
  validateOptions('warmup', plan.options, {
    connections: { type: 'integer', min: 1, max: plan.maxSize, optional: true },
    timeoutMillis: { type: 'integer', min: 1, optional: true },
  })
  const requested = plan.options.connections ?? plan.defaultConnections
  const started = performance.now()
  const deadline = started + (plan.options.timeoutMillis ?? plan.defaultTimeoutMillis)
  const outcomes = await Promise.allSettled(Array.from({ length: requested }, () => openValidated(plan, deadline)))
  let opened = 0
  let firstError: unknown
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') {
      outcome.value.release()
      opened++
    } else {
      firstError ??= outcome.reason
    }
  }
  const durationMillis = performance.now() - started
  if (opened === 0) {
    const reason = firstError instanceof Error ? firstError.message.replace(/\.$/, '') : String(firstError)
    throw new PoolWarmupError(plan.pool, plan.target, `None of ${requested} connection(s) could be opened: ${reason}.`, { cause: firstError })
  }
  return { pool: plan.pool, requested, opened, failed: requested - opened, durationMillis }
}

async function openValidated(plan: WarmupPlan, deadline: number): Promise<TrackedClient> {
  const client = await plan.connect(deadline)
  try {
    await client.query('SELECT 1')
  } catch (error) {
    client[clientState].disconnectReason = 'error'
    client.release(true)
    throw plan.failed(error)
  }
  return client
}
