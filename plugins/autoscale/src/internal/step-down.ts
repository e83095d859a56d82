// The adaptive policy's trial steps down: one taken now, or one asked for once the pool has settled.
import type { ScalingDecision } from '../scaling-policy.js'
import { rounded } from './bounds.js'
import type { StepContext, StepState } from './step-state.js'
import { StepTrial } from './step-trial.js'

/**
 * A trial step down from `size`, once two windows measured the load: kept if the connections it takes away
 * did nothing. The first step of a descent that a heavier load started says so in its details. Read at a
 * knee, the heavier load must still show in each window since (a slowdown that ended is no reason to leave
 * the knee), and the knee holds until then. Returns `undefined` when no step is taken.
 */
export function stepDown(state: StepState, size: number, { rules, knee, level }: StepContext, to?: number): ScalingDecision | undefined {
  const baseline = level.windows.length >= 2 ? level.recent(rules.kneeWindows) : undefined
  if (size <= rules.minSize || baseline === undefined) return undefined
  const factor = 1 + (rules.probeFactor - 1) / 2
  const next = Math.max(rules.minSize, Math.min(size - 1, to ?? Math.floor(size / factor)))
  state.descending = false
  const shift = state.heavier
  state.heavier = undefined
  const fromKnee = shift !== undefined && state.heavierAtKnee
  if (fromKnee && !level.stillHeavier(shift, rules.kneeWindows)) return undefined
  if (fromKnee) knee.clear()
  state.trial = new StepTrial('down', size, next, baseline)
  if (fromKnee) state.kneeSlowdown = { trial: state.trial, useMillis: shift.fromUseMillis, checkoutsPerSecond: shift.fromCheckoutsPerSecond }
  return {
    size: next,
    reason: 'autoscale:adaptive-descend',
    details: rounded({
      checkoutsPerSecond: baseline.checkoutsPerSecond,
      meanUseMillis: baseline.meanUseMillis,
      serverUseMillis: baseline.serverUseMillis,
      eventLoopDelayMillis: baseline.meanLoopDelayMillis,
      ...(shift !== undefined ? { heavierUseRatio: shift.useRatio, previousMeanUseMillis: shift.fromUseMillis, shiftEventLoopDelayMillis: shift.loopDelayMillis } : {}),
    }),
  }
}

/**
 * Asks for one step down from `size` once the pool has settled there, judged as any step down; kept, it
 * ends there (the 'keep' verdict reads it as a checked knee), undone at once if its connections carried
 * their share.
 */
/**
 * Sets or clears the check from above a hasty step asks for: one step down (a target left by a surge's check
 * is dropped, so no later check inherits it).
 */
export function setCheckFromAbove(state: StepState, on: boolean): void {
  state.checkFromAbove = on
  state.checkDownTo = undefined
}

export function checkOnceFromAbove(state: StepState, size: number, downTo?: number): void {
  state.checkFromAbove = true
  state.checkDownTo = downTo
  state.checkedKnee = size
  state.checkingOwnStep = false
}
