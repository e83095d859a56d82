/**
 * What a policy reads from a pool: a subset of core's `PoolCounters` (and so of `PoolMetrics`): the
 * autoscaler samples `getPoolCounters()`, or a `getPoolMetrics()` snapshot from a pool without it. `waitTime` and `useTime` need only their lifetime `count` and `sum` (ms): policies take
 * differences between two samples to get exact means over any interval.
 */
export interface PoolSample {
  /** Connections checked out. */
  activeConnections: number
  /** Open connections not checked out. */
  idleConnections: number
  /** Connections open or being opened. */
  totalConnections: number
  /** Requests waiting for a connection. */
  waitingRequests: number
  /** Connections the driver is still closing (absent when the pool cannot tell). */
  closingConnections?: number | undefined
  /** Connections a shrink kept open above `maxSize` for reuse (absent when the pool cannot keep them). */
  parkedConnections?: number | undefined
  /** The pool's size limit when the sample was taken. */
  maxSize: number
  /** Waits for a connection: lifetime `count` and `sum` (ms). */
  waitTime: { readonly count: number; readonly sum: number }
  /** Checkouts, from getting a connection to giving it back: lifetime `count` and `sum` (ms). */
  useTime: { readonly count: number; readonly sum: number }
}

/** What the autoscaler tells a policy at each evaluation. */
export interface EvaluationInput {
  /** The pool's current `maxSize`. */
  size: number
  /** The most this instance may use of a shared budget, when one is configured. */
  budgetLimit?: number | undefined
  /**
   * Mean event-loop delay (ms) of this process since the last evaluation, when the autoscaler measures it
   * (it does while its timers run). Checkout use times include it: a busy client holds its connections
   * longer without the database doing more, which a policy must not read as the database's knee.
   */
  eventLoopDelayMillis?: number | undefined
  /**
   * Share of the time since the last evaluation this process's event loop was busy, 0 to 1, when the
   * autoscaler measures it. Near 1 this process had no time to spare, and its replies may wait in the
   * socket for longer than the event-loop delay shows; on cores it shares with the database, a saturated
   * server keeps it near 1 as well, so it does not tell whose limit was reached.
   */
  eventLoopUtilization?: number | undefined
}

/** A policy's answer: resize the pool to `size` (its `maxSize`), for `reason`, on these numbers. */
export interface ScalingDecision {
  /** The new `maxSize`, always within the policy's bounds (and the budget, if any). */
  size: number
  /** Stable, low-cardinality code: one of `ScalingReason` for the built-in policies, a code of your own for custom ones. */
  reason: string
  /** The measurements behind the decision (utilization, checkout rate, use time...), all numbers. */
  details: Record<string, number>
  /**
   * After a shrink, keep the connections above `size` open this long (ms) for a later grow to reuse
   * (core's `ResizeOptions.keepSurplusMillis`); absent or 0: they close at once, and so do connections
   * kept by an earlier decision, except those `size` has room for.
   */
  keepSurplusMillis?: number | undefined
}

/** Why a built-in policy resized a pool. These codes become the `reason` of core's `resize` event. */
export type ScalingReason =
  | 'autoscale:bounds'
  | 'autoscale:budget'
  | 'autoscale:threshold-up'
  | 'autoscale:threshold-down'
  | 'autoscale:adaptive-probe'
  | 'autoscale:adaptive-grow'
  | 'autoscale:adaptive-knee'
  | 'autoscale:adaptive-descend'
  | 'autoscale:adaptive-restore'
  | 'autoscale:adaptive-shrink'

/**
 * A sizing policy: fed samples of a pool's metrics, asked now and then for a decision. Policies are pure
 * (no timers, no I/O, time from an injected clock), so they can be tested with synthetic series; the
 * autoscaler does the sampling, the scheduling and the `resize` calls.
 */
export interface ScalingPolicy {
  /** `'threshold'`, `'adaptive'`, or a custom policy's name. */
  readonly kind: string
  /** Lower bound of the pool's `maxSize`. */
  readonly minSize: number
  /** Upper bound of the pool's `maxSize`. */
  readonly maxSize: number
  /** How often the autoscaler calls `evaluate()`. */
  readonly evaluationIntervalMillis: number
  /** How often the autoscaler calls `observe()` between evaluations. */
  readonly sampleIntervalMillis: number
  /** Records one sample of the pool's metrics. */
  observe(sample: PoolSample): void
  /** Closes the current window of samples; returns a decision, or `undefined` to leave the size alone. */
  evaluate(input: EvaluationInput): ScalingDecision | undefined
  /**
   * Optional: when the next evaluation is due, in ms after the last one (default
   * `evaluationIntervalMillis`). Asked after every sample, so a policy can ask for an early evaluation
   * (0) when a sample shows something urgent, or for shorter windows while it judges a step.
   */
  dueInMillis?(): number
}
