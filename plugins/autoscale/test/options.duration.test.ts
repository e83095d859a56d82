import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createSharedBudget, resolveAdaptiveConfig, validateDynamicPoolConfig, type AdaptivePoolConfig, type DynamicPoolConfig, type SharedBudgetOptions } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const adaptive: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 50 }
const threshold: DynamicPoolConfig = {
  enabled: true, minSize: 2, maxSize: 20, scaleUpThreshold: 80, scaleDownThreshold: 30,
  scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000,
}
const budget: SharedBudgetOptions = { total: 90, applicationName: 'orders-api', query: async () => ({ rows: [] }) }

// Every option that becomes a timer or a time span, with the call that takes it.
const durations: [string, (value: number) => unknown][] = [
  ['evaluationIntervalMillis', (v) => resolveAdaptiveConfig({ ...adaptive, evaluationIntervalMillis: v })],
  ['sampleIntervalMillis', (v) => resolveAdaptiveConfig({ ...adaptive, sampleIntervalMillis: v })],
  ['kneeHoldMillis', (v) => resolveAdaptiveConfig({ ...adaptive, kneeHoldMillis: v })],
  ['reprobeMillis', (v) => resolveAdaptiveConfig({ ...adaptive, reprobeMillis: v })],
  ['cooldownMillis', (v) => resolveAdaptiveConfig({ ...adaptive, cooldownMillis: v })],
  ['scaleDownDelayMillis', (v) => resolveAdaptiveConfig({ ...adaptive, scaleDownDelayMillis: v })],
  ['evaluationInterval', (v) => validateDynamicPoolConfig({ ...threshold, evaluationInterval: v })],
  ['sampleIntervalMillis', (v) => validateDynamicPoolConfig({ ...threshold, sampleIntervalMillis: v })],
  ['refreshMillis', (v) => createSharedBudget({ ...budget, refreshMillis: v })],
  ['staleAfterMillis', (v) => createSharedBudget({ ...budget, staleAfterMillis: v })],
]

const rule = suite('duration options')

for (const [option, call] of durations) {
  rule(`\`${option}\` above the longest timer (2**32 ms) is refused, naming the option and the range`, () => {
    const error = throwsError(() => call(2 ** 32), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.match(error.message, `\`${option}\``)
    assert.match(error.message, 'milliseconds between')
    assert.match(error.message, '2147483647, got `4294967296`')
  })
  rule(`\`${option}\` must be a whole number of milliseconds`, () => {
    assert.is(throwsError(() => call(1.5), InvalidOptionError).option, option)
  })
}

rule('the longest timer itself is accepted', () => {
  resolveAdaptiveConfig({ ...adaptive, kneeHoldMillis: 2 ** 31 - 1, scaleDownDelayMillis: 2 ** 31 - 1 })
  validateDynamicPoolConfig({ ...threshold, evaluationInterval: 2 ** 31 - 1 })
  createSharedBudget({ ...budget, refreshMillis: 2 ** 30 - 1, staleAfterMillis: 2 ** 31 - 1 })
  // Defaults derived from the longest refresh stay within it too.
  const longest = createSharedBudget({ ...budget, refreshMillis: 2 ** 31 - 1 })
  assert.equal([longest.steadyRefreshMillis, longest.staleAfterMillis], [2 ** 31 - 1, 2 ** 31 - 1])
})

rule.run()
