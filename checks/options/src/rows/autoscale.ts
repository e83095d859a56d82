import { attachAutoscaler, createPolicy, createSharedBudget, type AutoscalePoolConfig } from '@lifeguard/autoscale'
import { createMongoPool } from '@lifeguard/mongodb'
import { TIMER_LIMIT, TOO_LONG, type OptionRow } from '../option-row.js'

const pkg = '@lifeguard/autoscale'
const gap = 'autoscale durations are not capped at the timer limit yet'
const threshold = { enabled: true, minSize: 1, maxSize: 10, scaleUpThreshold: 70, scaleDownThreshold: 30, scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 1000 }
const adaptive = { policy: 'adaptive', minSize: 1, maxSize: 10 } as const
const policy = (config: Record<string, unknown>) => () => createPolicy(config as unknown as AutoscalePoolConfig)
const budget = { total: 100, applicationName: 'orders', query: async () => ({ rows: [] }) }

const adaptiveDurations = ['evaluationIntervalMillis', 'sampleIntervalMillis', 'kneeHoldMillis', 'cooldownMillis', 'scaleDownDelayMillis'].map(
  (option): OptionRow => ({
    package: pkg,
    entry: 'createPolicy (adaptive)',
    bad: `${option}: 2 ** 32`,
    option,
    message: TIMER_LIMIT,
    pending: gap,
    call: policy({ ...adaptive, [option]: TOO_LONG }),
  }),
)

/** `@lifeguard/autoscale`: policies, the shared budget and `attachAutoscaler`. */
export const autoscaleRows: OptionRow[] = [
  { package: pkg, entry: 'createPolicy (threshold)', bad: 'evaluationInterval: 2 ** 32', option: 'evaluationInterval', message: TIMER_LIMIT, pending: gap, call: policy({ ...threshold, evaluationInterval: TOO_LONG }) },
  ...adaptiveDurations,
  { package: pkg, entry: 'createSharedBudget', bad: 'refreshMillis: 2 ** 32', option: 'refreshMillis', message: TIMER_LIMIT, pending: gap, call: () => createSharedBudget({ ...budget, refreshMillis: TOO_LONG }) },
  {
    package: pkg,
    entry: 'attachAutoscaler',
    bad: "maxSize above the pool's own limit",
    option: 'maxSize',
    pending: "attachAutoscaler does not compare maxSize with the pool's limit yet",
    call: (t) => attachAutoscaler(t.track(createMongoPool({ name: 'orders', uri: 'mongodb://127.0.0.1:9/', maxSizeLimit: 20 })), { ...threshold, maxSize: 500 }, { timers: false }),
  },
]
