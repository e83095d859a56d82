import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, createPolicy, createSharedBudget, resolveAdaptiveConfig, ThresholdPolicy, type AdaptivePoolConfig } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const valid: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 50 }

function rejected(overrides: Record<string, unknown>, option: string, words: RegExp): void {
  const error = throwsError(() => resolveAdaptiveConfig({ ...valid, ...overrides } as AdaptivePoolConfig), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, option)
  assert.match(error.message, `\`${option}\``)
  assert.match(error.message, words)
}

const config = suite('resolveAdaptiveConfig')

config('fills in the defaults', () => {
  const resolved = resolveAdaptiveConfig(valid)
  assert.equal(
    { ...resolved },
    {
      policy: 'adaptive',
      enabled: true,
      minSize: 2,
      maxSize: 50,
      evaluationIntervalMillis: 100,
      sampleIntervalMillis: 25,
      headroom: 1.2,
      minSamples: 20,
      waitThresholdMillis: 1,
      probeFactor: 2,
      kneeEfficiency: 0.05,
      leapEfficiency: 0.5,
      kneeWindows: 4,
      reprobeMillis: 2000,
      kneeHoldMillis: 4000,
      cooldownMillis: 2000,
      scaleDownDelayMillis: 2000,
      hysteresis: 0.2,
      keepSurplusMillis: 30_000,
      budget: undefined,
    },
  )
})

config('keeps what a shrink sheds for 30 s by default, and not at all with a shared budget unless told to', () => {
  const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 0 }] }) })
  assert.is(resolveAdaptiveConfig(valid).keepSurplusMillis, 30_000)
  assert.is(resolveAdaptiveConfig({ ...valid, budget }).keepSurplusMillis, 0)
  assert.is(resolveAdaptiveConfig({ ...valid, budget, keepSurplusMillis: 5000 }).keepSurplusMillis, 5000)
})

config('rejects bad bounds naming the field', () => {
  rejected({ minSize: 60 }, 'minSize', /<= `maxSize` \(50\), got `60`/)
  rejected({ maxSize: 0 }, 'maxSize', /an integer between 1 and 10000/)
})

config('rejects out-of-range tuning values naming the field', () => {
  rejected({ headroom: 0.5 }, 'headroom', /between 1 and 10, got `0.5`/)
  rejected({ kneeEfficiency: 2 }, 'kneeEfficiency', /between 0 and 1/)
  rejected({ probeFactor: 1 }, 'probeFactor', /between 1.1 and 10/)
  rejected({ hysteresis: 1 }, 'hysteresis', /between 0 and 0.99/)
  rejected({ evaluationIntervalMillis: 0 }, 'evaluationIntervalMillis', /milliseconds between 1 and 2147483647/)
  rejected({ minSamples: 0 }, 'minSamples', /an integer >= 1/)
  rejected({ sampleIntervalMillis: 500 }, 'sampleIntervalMillis', /<= `evaluationIntervalMillis` \(100\)/)
  rejected({ kneeEfficiency: 0.6 }, 'kneeEfficiency', /<= `leapEfficiency` \(0.5\)/)
  rejected({ kneeWindows: 0 }, 'kneeWindows', /between 1 and 100/)
  rejected({ reprobeMillis: 5000, kneeHoldMillis: 4000 }, 'reprobeMillis', /<= `kneeHoldMillis` \(4000\), got `5000`/)
  rejected({ keepSurplusMillis: -1 }, 'keepSurplusMillis', /milliseconds between 0 and 2147483647, got `-1`/)
  rejected({ waitThresholdMillis: Number.POSITIVE_INFINITY }, 'waitThresholdMillis', /a number between 0 and 2147483647, got `Infinity`/)
})

config('rejects unknown keys, such as a threshold field on an adaptive config', () => {
  rejected({ scaleUpThreshold: 80 }, 'scaleUpThreshold', /unknown option/)
})

const factory = suite('createPolicy')

factory('builds the policy the config names', () => {
  assert.instance(createPolicy(valid), AdaptivePolicy)
  const threshold = createPolicy({
    enabled: true, minSize: 1, maxSize: 5, scaleUpThreshold: 80, scaleDownThreshold: 20,
    scaleUpIncrement: 1, scaleDownIncrement: 1, evaluationInterval: 1000,
  })
  assert.instance(threshold, ThresholdPolicy)
})

factory('rejects an unknown policy and a config that is not an object', () => {
  const unknown = throwsError(() => createPolicy({ ...valid, policy: 'magic' } as unknown as AdaptivePoolConfig), InvalidOptionError)
  assert.is(unknown.option, 'policy')
  assert.match(unknown.message, /one of `threshold`, `adaptive`, got `"magic"`/)
  const notObject = throwsError(() => createPolicy(null as unknown as AdaptivePoolConfig), InvalidOptionError)
  assert.is(notObject.option, 'config')
})

config.run()
factory.run()
