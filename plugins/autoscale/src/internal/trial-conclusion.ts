// How the adaptive policy acts on a trial's verdict: the step is kept, undone, or braked at a knee.
import type { ScalingDecision } from '../scaling-policy.js'
import { rounded } from './bounds.js'
import { checkOnceFromAbove, setCheckFromAbove, stepDown } from './step-down.js'
import { leaps, type StepContext, type StepState } from './step-state.js'
import type { StepTrial, Verdict } from './step-trial.js'

// At a knee, filling idle connections leaves the throughput flat. Below this share of the calm's with none
// opened, the database slowed for another reason: the burst's own step proves nothing, and a probe follows.
const burstKneeGain = 0.8
// A step down from a knee that a heavier reading started, whose last windows then served this much more
// than the slow ones before them: the load changed back (see `slowdownEnded`).
const slowdownEndedGain = 1.1
// ... and served at least this share of what the knee served before the reading. Queries that stay several
// times heavier (they burn CPU where they used to wait) can be served better by fewer connections, as the
// database spends less on contention: the step down then gains too, but serves a fraction of what the knee
// did (in the model, a sixth), and it is no slowdown ending. A slowdown that ends within the step's windows
// keeps half of the knee's rate or more.
const slowdownEndedShare = 1 / 3
// A burst's own step (the connections the calm left idle, see the policy's `#measureBurst`) whose connections
// carried at least this share of their own throughput: the database is far from its knee, and the next step
// serves every request waiting (a 'surge'). Only that step: it compares the burst with the calm at one size,
// with no connection opened, where a probe's windows carry the cost of opening its connections (in the model,
// a surge after a probe leapt past a database that thrashes, and a check from above read its thrash as a loss).
const surgeEfficiency = 0.8
// ... on busy connections grown by at least this much (5 clients of a calm filling 6): the smaller the growth,
// the more of the throughput's noise the efficiency carries (at 1.2, a 16% swing reads as the whole bar).
const surgeGrowth = 1.2
// A step down undone whose removed connections carried at least this share of their throughput: the curve is
// straight below the size it left (a wait-bound load), so it runs on above it, and the pool leaps to the target.
// Half the share (a leap's bar going up) says no such thing: at a knee a step down by half still costs a good
// part (measured on 2 cores at a CPU-bound knee of 4: 0.6), while more connections gain nothing. Read so, a
// heavier reading's descent was undone and the pool leapt 4 -> 16 -> 95 into that knee; half a probe goes first.
const straightEfficiency = 0.85
// The least share of its connections the check below a burst's own knee takes away (see `ownStepCheckTo`).
const minCheckShrink = 0.25

/**
 * Acts on a trial's verdict, as the policy's class comment describes: a decision (brake, or back up), or
 * `undefined` to go on. Moves `state` for the steps that follow.
 */
export function concludeTrial(state: StepState, trial: StepTrial, verdict: Verdict, now: number, context: StepContext): ScalingDecision | undefined {
  const { rules, knee: kneeHold, level } = context
  const slowdown = state.kneeSlowdown?.trial === trial ? state.kneeSlowdown : undefined
  state.kneeSlowdown = undefined
  const ended = slowdown !== undefined && trial.lateGain >= slowdownEndedGain && trial.lateCheckoutsPerSecond >= slowdownEndedShare * slowdown.checkoutsPerSecond
  if (ended && (verdict.kind === 'keep' || verdict.kind === 'settle')) {
    return slowdownEnded(state, trial, verdict, slowdown.useMillis, now, context)
  }
  switch (verdict.kind) {
    case 'wait':
    case 'unused':
      return undefined
    case 'leap':
    case 'climb': {
      const surge = verdict.kind === 'leap' && trial.from === trial.to && verdict.efficiency >= surgeEfficiency && verdict.growth >= surgeGrowth
      state.momentum = surge ? 'surge' : verdict.kind
      setCheckFromAbove(state, trial.hasty)
      // A step of more than one probe that paid only in part may owe its whole gain to its first connections.
      // After a surge the knee may lie anywhere below it (in the model, a database of 16 cores surged 7 -> 95
      // and, checked one step down, held 63 where 16 to 28 served a tenth more): the check goes to where the
      // surge's gain says it is (see `surgeCheckTo`), and is undone if the connections it takes away carried
      // their share.
      if (partialLeap(trial, verdict, rules.probeFactor)) checkOnceFromAbove(state, trial.to, trial.surge ? surgeCheckTo(trial, verdict, rules.probeFactor) : undefined)
      // Above a knee found before, a partial gain moves the knee up one step only: on a flat curve noise
      // reads as a gain now and then, and must not walk the pool up to its bound.
      if (verdict.kind === 'climb' && trial.patient) kneeHold.set(trial.to, now)
      else kneeHold.clear()
      return undefined
    }
    case 'starved':
      // This process could not use the connections: the step proves nothing. Keep it (no brake), and
      // try again when the hold ends, as at a knee.
      state.momentum = 'climb'
      setCheckFromAbove(state, trial.hasty)
      kneeHold.set(trial.to, now)
      return undefined
    case 'keep':
    case 'settle': {
      // Connections that did nothing: try fewer still (in a descent). Ones that carried a little: the knee
      // is near, stop. A step that checked a knee from below answered what it asked (the knee is at this
      // size or below) and ends there: past a knee the throughput is flat, so the next step's verdict would
      // be noise (measured on 2 cores beside a busy neighbour: one went on from 4 connections to 2, and the
      // run served a fifth less than a fixed pool of 5).
      const checked = trial.from === state.checkedKnee
      state.checkedKnee = undefined
      state.descending = verdict.kind === 'keep' && !checked
      state.idleAbove++
      kneeHold.set(trial.to, now)
      return undefined
    }
    case 'restore': {
      state.descending = false
      const checked = trial.from === state.checkedKnee
      const full = verdict.efficiency >= rules.leapEfficiency
      state.checkedKnee = undefined
      // The connections taken away carried at least half their share: no knee at `from`, and more connections
      // will pay as these did. Nearly all of it (a wait-bound load): the pool is on the straight part of the
      // curve and leaps; less, and half a probe tests the curve above first (see `straightEfficiency`). Unless
      // connections above `from` were found idle before (steps down kept, or a knee right above): the
      // knee then lies between the two sizes. A knee found by a burst's own step is the exception: the
      // check below it contradicts it, and the own step's reading is the weaker of the two (it compares the
      // burst with the calm before it, another load; the check compares two sizes under the same burst). That knee is forgotten,
      // but only half a probe follows, not a leap: in the model, a dip of the database on a CPU-bound
      // check costs half a probe, which finds the knee again (a leap cost a fifth of the burst), and a
      // dip on a wait-bound own step no longer holds the burst at 7 connections for the knee's hold.
      const refuted = full && checked && state.checkingOwnStep
      if (refuted || (full && state.idleAbove === 0)) {
        kneeHold.clear()
        state.momentum = refuted || verdict.efficiency < straightEfficiency ? 'climb' : 'leap'
        state.idleAbove = 0
        level.returnTo(trial.from, trial.baseline.meanUseMillis)
        return { size: trial.from, reason: 'autoscale:adaptive-restore', details: rounded(trial.details(verdict)) }
      }
      // They carried part of it: this size is the knee for now; a probe above it comes after the hold
      // (the hold of a knee this step checked from below stands: it was not found again).
      state.momentum = 'climb'
      const holdMillis = checked ? kneeHold.remainingMillis(now) : kneeHold.set(trial.from, now)
      level.returnTo(trial.from, trial.baseline.meanUseMillis)
      return { size: trial.from, reason: 'autoscale:adaptive-restore', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
    }
    case 'knee': {
      if (trial.from === trial.to) return burstKnee(state, trial, verdict, now, context)
      // The connections that carry today's throughput at the use time measured before the step (no
      // headroom: spare connections past the knee only lengthen every query). A probe above a knee found
      // before that did not pay found that knee again: on a flat curve the connections it carried read
      // above it by noise now and then, and would ratchet the knee up one connection at a time.
      const carried = (verdict.measured.checkoutsPerSecond * trial.baseline.meanUseMillis) / 1000
      const knee = trial.patient ? trial.from : Math.min(trial.to - 1, Math.max(trial.from, rules.minSize, Math.ceil(carried - 1e-9)))
      const holdMillis = kneeHold.set(knee, now)
      state.momentum = 'climb'
      state.idleAbove++
      // Back where the step started, the load is judged against what was measured there before it.
      if (knee === trial.from) level.returnTo(knee, trial.baseline.meanUseMillis)
      // A burst's first step is judged against the calm before it, and on a database saturated by a few
      // connections the calm served about as much as the burst can. So the size it reached may lie past
      // the knee (noise read as a gain, and the next step found the knee). The knee is never set below
      // the step's start: one step down checks it from below, as after a hasty step.
      if (trial.from === state.burstReached && !state.burstChecked && knee > rules.minSize) {
        checkOnceFromAbove(state, knee)
        state.burstChecked = true
      }
      return { size: knee, reason: 'autoscale:adaptive-knee', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
    }
  }
}

// The burst filled the calm's idle connections and the throughput did not rise with them: the knee is at
// this size or below. It holds here, and one step down checks it from below (see the 'keep' and
// 'restore' verdicts): to the connections the calm kept busy, fewer when the burst served less than the
// calm did (`ownStepCheckTo`).
function burstKnee(state: StepState, trial: StepTrial, verdict: Extract<Verdict, { kind: 'knee' }>, now: number, context: StepContext): ScalingDecision | undefined {
  if (verdict.gain < burstKneeGain) return undefined
  const holdMillis = context.knee.set(trial.to, now)
  state.momentum = 'climb'
  state.idleAbove++
  state.burstChecked = true
  const down = stepDown(state, trial.to, context, ownStepCheckTo(trial, verdict, context.rules.probeFactor))
  if (down === undefined) return undefined
  state.checkedKnee = trial.to
  state.checkingOwnStep = true
  return { ...down, reason: 'autoscale:adaptive-knee', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
}

// Where the check below a burst's own knee goes: the connections that served the burst's throughput at the
// calm's use time, no more than the calm kept busy. The burst filled more and gained next to nothing, so the
// knee is near them, and half a probe down (the check of any other knee) may land under it and be judged
// there on noise. Measured on 2 cores beside a busy neighbour, where the calm kept about 5 busy: half a probe
// down from 7 went to 4, was kept, and most of the burst ran at 4, where a fixed pool of 5 served a sixth
// more in the same passes (rounds BD and CF in the benchmark notes; at 5, rounds CG and CI met).
// Never deeper than half a probe (a light calm says little of the knee), and at least `minCheckShrink` down:
// a smaller step is too small to judge (a calm sized with headroom keeps 0.83 of its pool busy), and would
// read as the same knee found again (see `KneeHold`).
function ownStepCheckTo(trial: StepTrial, verdict: Extract<Verdict, { kind: 'knee' }>, probeFactor: number): number {
  const size = trial.to
  const carried = (verdict.measured.checkoutsPerSecond * trial.baseline.meanUseMillis) / 1000
  const calm = Math.ceil(Math.min(carried, trial.baseline.meanActive) - 1e-9)
  const halfProbeBelow = Math.floor(size / (1 + (probeFactor - 1) / 2))
  const shrunkEnough = Math.ceil(size * (1 - minCheckShrink)) - 1
  return Math.max(halfProbeBelow, Math.min(shrunkEnough, calm))
}

// At a knee, fewer connections serve no more than the knee's under one load: a step down that a heavier
// reading started there, and whose last windows then served a tenth more than the slow ones before them,
// measured the load changing back. The database was slowed for a while (on 2 cores, a busy moment of the
// machine read as queries 1.7 times heavier), and judged against the slow windows the connections taken
// away seemed to carry nothing: the step was kept, and the burst served a seventh less than a fixed
// pool of 5 (the model: the pool held 2 until the knee's hold ended). Back to the knee, where the load is
// judged against the use time before the reading. (Not when those windows served a fraction of what the
// knee did before: see `slowdownEndedShare`.)
function slowdownEnded(
  state: StepState,
  trial: StepTrial,
  verdict: Extract<Verdict, { kind: 'keep' | 'settle' }>,
  useMillis: number,
  now: number,
  { knee, level }: StepContext,
): ScalingDecision {
  const holdMillis = knee.set(trial.from, now)
  state.momentum = 'climb'
  state.descending = false
  state.idleAbove++
  level.returnTo(trial.from, useMillis)
  return { size: trial.from, reason: 'autoscale:adaptive-restore', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
}

// A step up of more than one probe (a leap to the target) whose connections carried only part of their
// share. On a database that saturates between the two sizes, the step's gain came from its first
// connections and the rest only lengthen every query (measured on a slower 2-core machine: 28 -> 95
// served 8.2k q/s where 28 served 5.2k, and a fixed pool of 50 served as much as 95 at two thirds of
// its p99). A step down checks it; past the knee, a second step would be judged on noise (the same
// machine: descents went on from 63 to 42, were undone, and probed back to 95, each move a dip), so
// the check ends after its one step, as a check from below does.
// Where a surge that paid in part is checked from: the connections its gain would have taken at the
// efficiency of the ones before it (`from x gain`: a knee lies at or above it, since past a knee more
// connections serve no more), and half a probe above that, so that the check lands above the knee rather
// than below it. Always below the surge's own size.
function surgeCheckTo(trial: StepTrial, verdict: Extract<Verdict, { kind: 'leap' | 'climb' }>, probeFactor: number): number {
  const climbFactor = 1 + (probeFactor - 1) / 2
  return Math.min(trial.to - 1, Math.max(trial.from + 1, Math.ceil(trial.from * verdict.gain * climbFactor - 1e-9)))
}

function partialLeap(trial: StepTrial, verdict: Extract<Verdict, { kind: 'leap' | 'climb' }>, probeFactor: number): boolean {
  return verdict.kind === 'climb' && !trial.patient && leaps(trial.from, trial.to, probeFactor)
}
