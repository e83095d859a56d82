import { attachAutoscaler, createPolicy, createSharedBudget, type AutoscalePoolConfig } from '@lifeguard/autoscale'
import { createMongoPool } from '@lifeguard/mongodb'
import { TIMER_LIMIT, TOO_LONG, type OptionRow } from '../option-row.js'

const pkg = '@lifeguard/autoscale'
const threshold = { enabled: true, minSize: 1, maxSize: 10, scaleUpThreshold: 70, scaleDownThreshold: 30, scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 1000 }
const adaptive = { policy: 'adaptive', minSize: 1, maxSize: 10 } as const
const policy = (config: Record<string, unknown>) => () => createPolicy(config as unknown as AutoscalePoolConfig)
const budget = { total: 100, applicationName: 'orders', query: async () => ({ rows: [] }) }

const duration = (entry: string, option: string, call: OptionRow['call']): OptionRow => ({ package: pkg, entry, bad: `${option}: 2 ** 32`, option, message: TIMER_LIMIT, call })

/** `@lifeguard/autoscale`: policies, the shared budget and `attachAutoscaler`. */
export const autoscaleRows: OptionRow[] = [
  ...['evaluationInterval', 'sampleIntervalMillis'].map((option) => duration('createPolicy (threshold)', option, policy({ ...threshold, [option]: TOO_LONG }))),
  ...['evaluationIntervalMillis', 'sampleIntervalMillis', 'reprobeMillis', 'kneeHoldMillis', 'cooldownMillis', 'scaleDownDelayMillis'].map((option) =>
    duration('createPolicy (adaptive)', option, policy({ ...adaptive, [option]: TOO_LONG })),
  ),
  ...['refreshMillis', 'staleAfterMillis'].map((option) => duration('createSharedBudget', option, () => createSharedBudget({ ...budget, [option]: TOO_LONG }))),
  {
    package: pkg,
    entry: 'attachAutoscaler',
    bad: "maxSize above the pool's own limit",
    option: 'maxSize',
    message: 'maxSizeLimit',
    call: (t) => attachAutoscaler(t.track(createMongoPool({ name: 'orders', uri: 'mongodb://127.0.0.1:9/', maxSizeLimit: 20 })), { ...threshold, maxSize: 500 }, { timers: false }),
  },
]
