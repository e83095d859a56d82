import { MAX_TIMER_MILLIS, rejectOption, validateOptions, MAX_POOL_SIZE } from '@lifeguard/core/adapter'
import { SharedBudget } from './shared-budget.js'
import { defaultSampleInterval } from './internal/sampling.js'

/**
 * The adaptive policy's configuration. Only the bounds are required; the defaults suit request/response
 * services (queries of a few ms to a few hundred ms).
 */
export interface AdaptivePoolConfig {
  /** Selects this policy (a config without `policy` is a threshold config). */
  policy: 'adaptive'
  /** `false` leaves the pool alone (default `true`). */
  enabled?: boolean | undefined
  /** Lowest `maxSize` the policy sets. */
  minSize: number
  /** Highest `maxSize` the policy sets. */
  maxSize: number
  /** Milliseconds between evaluations: the length of a measurement window (default 100). */
  evaluationIntervalMillis?: number | undefined
  /** Milliseconds between samples of the pool's occupancy (default: a tenth of the evaluation interval, 25 to 1000, never longer than the interval). */
  sampleIntervalMillis?: number | undefined
  /** Multiplier on the Little's law target, >= 1 (default 1.2: 20% spare connections). */
  headroom?: number | undefined
  /** Checkouts a window needs before its rates and times count (default 20). Emptier windows are ignored. */
  minSamples?: number | undefined
  /** Mean wait (ms) from which the pool counts as short of connections (default 1). */
  waitThresholdMillis?: number | undefined
  /** How much a growth step multiplies the size until a step has proven that more connections help (default 2). */
  probeFactor?: number | undefined
  /**
   * A growth step's efficiency is the throughput it gained per connection added, relative to the
   * throughput per connection before it: 1 means the new connections did as much work as the old ones,
   * 0 that they added nothing. Below `kneeEfficiency` (default 0.05), over `kneeWindows` windows, and with
   * the database's share of the use time rising with the connections, the step is undone: the knee is
   * found. A step down whose connections carried less than this share is kept, and the next may follow; one
   * whose connections carried more, but too little to go back for, is kept and ends the descent.
   */
  kneeEfficiency?: number | undefined
  /** At or above this efficiency (default 0.5) the next step goes straight to the target; between the two it climbs by half a probe. */
  leapEfficiency?: number | undefined
  /**
   * Windows a verdict for fewer connections needs (default 4): a knee, or a step down that cost nothing.
   * Verdicts for more connections take one window, so a noisy window can delay growth but never undo it.
   */
  kneeWindows?: number | undefined
  /**
   * While requests keep waiting at a knee, how long before the policy probes above it again (default 2000);
   * each probe that finds the same knee doubles the wait, up to `kneeHoldMillis`. A probe opens
   * connections on a busy database, which is slow: the doubling keeps that cost low while the load holds.
   */
  reprobeMillis?: number | undefined
  /** The longest a knee caps growth before the policy probes again (default 4000, or `reprobeMillis` when that is longer). */
  kneeHoldMillis?: number | undefined
  /** No shrinking for this long after a growth step (default 2000). */
  cooldownMillis?: number | undefined
  /** Demand must stay low this long before the pool shrinks: the shrink uses its peak over the period (default 2000). */
  scaleDownDelayMillis?: number | undefined
  /** The pool shrinks only when its target is this fraction below its size, in [0, 1) (default 0.2). */
  hysteresis?: number | undefined
  /**
   * How long the connections a step down or a shrink leaves over stay open, unused, for a later grow to
   * reuse (default 30000; 0 closes them at once). Opening or closing a PostgreSQL connection costs the
   * server about as much CPU as many short queries, which a load that turns every few seconds would
   * otherwise pay at every turn. They still hold server connections, so with a `budget` the default is 0:
   * what one instance sheds goes back to the fleet at once. A resize for the bounds or the budget keeps
   * nothing: it takes back the kept connections it has room for and closes the rest.
   */
  keepSurplusMillis?: number | undefined
  /** A connection budget shared by every instance of the service (see `createSharedBudget`). */
  budget?: SharedBudget | undefined
}

/** An adaptive config with every default filled in. */
export type ResolvedAdaptiveConfig = { [K in Exclude<keyof AdaptivePoolConfig, 'budget'>]-?: NonNullable<AdaptivePoolConfig[K]> } & { budget: SharedBudget | undefined }

const rules = {
  policy: { type: 'oneOf', values: ['adaptive'] },
  enabled: { type: 'boolean', optional: true },
  minSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE },
  maxSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE },
  evaluationIntervalMillis: { type: 'duration', min: 1, optional: true },
  sampleIntervalMillis: { type: 'duration', min: 1, optional: true },
  headroom: { type: 'number', min: 1, max: 10, optional: true },
  minSamples: { type: 'integer', min: 1, optional: true },
  // Finite: at Infinity no wait would ever count, and the pool would never grow.
  waitThresholdMillis: { type: 'number', min: 0, max: MAX_TIMER_MILLIS, optional: true },
  probeFactor: { type: 'number', min: 1.1, max: 10, optional: true },
  kneeEfficiency: { type: 'number', min: 0, max: 1, optional: true },
  leapEfficiency: { type: 'number', min: 0, max: 1, optional: true },
  kneeWindows: { type: 'integer', min: 1, max: 100, optional: true },
  reprobeMillis: { type: 'duration', optional: true },
  kneeHoldMillis: { type: 'duration', optional: true },
  cooldownMillis: { type: 'duration', optional: true },
  scaleDownDelayMillis: { type: 'duration', optional: true },
  hysteresis: { type: 'number', min: 0, max: 0.99, optional: true },
  keepSurplusMillis: { type: 'duration', optional: true },
  budget: { type: 'custom', expected: 'a SharedBudget (createSharedBudget)', check: (v: unknown) => v instanceof SharedBudget, optional: true },
} as const

/**
 * Checks an adaptive config and fills in the defaults.
 *
 * @param where - who takes the config, for the message
 * @throws {InvalidOptionError} naming the field, its value and what it accepts
 * @example
 * const config = resolveAdaptiveConfig({ policy: 'adaptive', minSize: 2, maxSize: 50 })
 */
export function resolveAdaptiveConfig(config: AdaptivePoolConfig, where = 'AdaptivePoolConfig'): ResolvedAdaptiveConfig {
  validateOptions(where, config, rules)
  if (config.minSize > config.maxSize) rejectOption(where, 'minSize', `an integer <= \`maxSize\` (${config.maxSize})`, config.minSize)
  const kneeEfficiency = config.kneeEfficiency ?? 0.05
  const leapEfficiency = config.leapEfficiency ?? 0.5
  if (kneeEfficiency > leapEfficiency) rejectOption(where, 'kneeEfficiency', `a number <= \`leapEfficiency\` (${leapEfficiency})`, kneeEfficiency)
  const evaluationIntervalMillis = config.evaluationIntervalMillis ?? 100
  const sampleIntervalMillis = config.sampleIntervalMillis ?? defaultSampleInterval(evaluationIntervalMillis)
  const reprobeMillis = config.reprobeMillis ?? 2000
  const kneeHoldMillis = config.kneeHoldMillis ?? Math.max(4000, reprobeMillis)
  if (reprobeMillis > kneeHoldMillis) rejectOption(where, 'reprobeMillis', `a duration <= \`kneeHoldMillis\` (${kneeHoldMillis})`, reprobeMillis)
  if (sampleIntervalMillis > evaluationIntervalMillis) {
    rejectOption(where, 'sampleIntervalMillis', `an integer <= \`evaluationIntervalMillis\` (${evaluationIntervalMillis})`, sampleIntervalMillis)
  }
  return {
    policy: 'adaptive',
    enabled: config.enabled ?? true,
    minSize: config.minSize,
    maxSize: config.maxSize,
    evaluationIntervalMillis,
    sampleIntervalMillis,
    headroom: config.headroom ?? 1.2,
    minSamples: config.minSamples ?? 20,
    waitThresholdMillis: config.waitThresholdMillis ?? 1,
    probeFactor: config.probeFactor ?? 2,
    kneeEfficiency,
    leapEfficiency,
    kneeWindows: config.kneeWindows ?? 4,
    reprobeMillis,
    kneeHoldMillis,
    cooldownMillis: config.cooldownMillis ?? 2000,
    scaleDownDelayMillis: config.scaleDownDelayMillis ?? 2000,
    hysteresis: config.hysteresis ?? 0.2,
    keepSurplusMillis: config.keepSurplusMillis ?? (config.budget === undefined ? 30_000 : 0),
    budget: config.budget,
  }
}
