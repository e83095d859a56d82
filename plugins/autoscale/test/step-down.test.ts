import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate } from '../src/internal/aggregate.js'
import { KneeHold } from '../src/internal/knee-hold.js'
import { LoadLevel } from '../src/internal/load-level.js'
import { checkOnceFromAbove } from '../src/internal/step-down.js'
import { initialStepState } from '../src/internal/step-state.js'
import { StepTrial } from '../src/internal/step-trial.js'
import { concludeTrial } from '../src/internal/trial-conclusion.js'
import { window } from './_helpers/window.js'

const rules = { minSize: 2, probeFactor: 2, kneeWindows: 4, kneeEfficiency: 0.05, leapEfficiency: 0.5 }

const checks = suite('the check from above')

checks('a surge`s check target is for that check only: a later hasty step that paid is checked one step down', () => {
  const state = initialStepState()
  const context = { rules, knee: new KneeHold(2000, 4000), level: new LoadLevel() }
  // A surge to 95 that paid in part asked for a check down to 20, which ran.
  checkOnceFromAbove(state, 95, 20)
  assert.is(state.checkDownTo, 20)
  // Later, a quick leap 32 -> 95 (hasty) pays: it asks for the usual one step down.
  const baseline = aggregate([window(32, 6000), window(32, 6000)])
  if (baseline === undefined) throw new Error('no baseline')
  const hasty = new StepTrial('up', 32, 95, baseline, { hasty: true })
  const measured = aggregate([window(95, 17_000)])
  if (measured === undefined) throw new Error('no window')
  concludeTrial(state, hasty, { kind: 'leap', measured, efficiency: 0.9, gain: 2.8, growth: 2.97 }, 10_000, context)
  assert.is(state.checkFromAbove, true)
  assert.is(state.checkDownTo, undefined)
})

checks.run()
