import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ThresholdPolicy, validateDynamicPoolConfig, type DynamicPoolConfig } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const valid: DynamicPoolConfig = {
  enabled: true,
  minSize: 2,
  maxSize: 20,
  scaleUpThreshold: 80,
  scaleDownThreshold: 30,
  scaleUpIncrement: 2,
  scaleDownIncrement: 1,
  evaluationInterval: 5000,
}

function rejected(overrides: Record<string, unknown>, option: string, words: RegExp): void {
  const error = throwsError(() => validateDynamicPoolConfig({ ...valid, ...overrides } as DynamicPoolConfig, 'setDynamicPoolConfig'), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, option)
  assert.match(error.message, option)
  assert.match(error.message, words)
  assert.match(error.message, 'setDynamicPoolConfig')
}

const config = suite('validateDynamicPoolConfig')

config('accepts the seed`s config and returns it', () => {
  assert.is(validateDynamicPoolConfig(valid), valid)
})

config('rejects minSize above maxSize, naming minSize and the limit', () => {
  rejected({ minSize: 30 }, 'minSize', /<= `maxSize` \(20\), got `30`/)
})

config('rejects thresholds outside 0..100', () => {
  rejected({ scaleUpThreshold: 120 }, 'scaleUpThreshold', /between 0 and 100, got `120`/)
  rejected({ scaleDownThreshold: -1 }, 'scaleDownThreshold', /between 0 and 100/)
})

config('rejects a down-threshold at or above the up-threshold', () => {
  rejected({ scaleDownThreshold: 80 }, 'scaleDownThreshold', /< `scaleUpThreshold` \(80\), got `80`/)
  rejected({ scaleDownThreshold: 90 }, 'scaleDownThreshold', /< `scaleUpThreshold`/)
})

config('rejects non-positive or fractional increments and intervals', () => {
  rejected({ scaleUpIncrement: 0 }, 'scaleUpIncrement', /an integer >= 1, got `0`/)
  rejected({ scaleDownIncrement: -2 }, 'scaleDownIncrement', /an integer >= 1/)
  rejected({ scaleUpIncrement: 1.5 }, 'scaleUpIncrement', /an integer >= 1/)
  rejected({ evaluationInterval: 0 }, 'evaluationInterval', /milliseconds between 1 and 2147483647, got `0`/)
  rejected({ evaluationInterval: -1000 }, 'evaluationInterval', /milliseconds between 1 and/)
})

config('rejects zero sizes, missing fields and unknown keys', () => {
  rejected({ minSize: 0 }, 'minSize', /an integer between 1 and 10000/)
  rejected({ enabled: undefined }, 'enabled', /a boolean, got `undefined`/)
  rejected({ scaleUpTreshold: 80 }, 'scaleUpTreshold', /unknown option/)
})

config('rejects a sample interval longer than the evaluation interval', () => {
  rejected({ sampleIntervalMillis: 6000 }, 'sampleIntervalMillis', /<= `evaluationInterval` \(5000\)/)
})

config('is applied by the policy constructor', () => {
  const error = throwsError(() => new ThresholdPolicy({ ...valid, maxSize: 1 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'minSize')
})

config.run()
