// What the adaptive policy's steps carry from one evaluation to the next, shared with the step functions.
import type { ResolvedAdaptiveConfig } from '../adaptive-config.js'
import type { KneeHold } from './knee-hold.js'
import type { LoadLevel, LoadShift } from './load-level.js'
import type { StepTrial } from './step-trial.js'

/** A step down that a heavier reading at a knee started, with the use time and rate before the reading. */
export interface KneeSlowdown {
  trial: StepTrial
  useMillis: number
  checkoutsPerSecond: number
}

/**
 * Where the adaptive policy's steps stand: the step being judged, and what the steps before it found.
 * Plain data: the policy (`AdaptivePolicy`) and the step functions (`concludeTrial`, `stepDown`) both move it.
 */
export interface StepState {
  /** The step being judged, if any. */
  trial: StepTrial | undefined
  /**
   * How the last growth step paid: 'leap' lets the next go straight to the target (at most two probes at
   * once), 'climb' by half a probe; 'surge' is a leap whose connections carried nearly their full share, and
   * the next step takes a connection for every request waiting.
   */
  momentum: 'probe' | 'climb' | 'leap' | 'surge'
  /** The last step down cost nothing: the next full evaluation tries another. */
  descending: boolean
  /** The heavier load that started the descent under way, until its first step is taken. */
  heavier: LoadShift | undefined
  /** `heavier` was read at a knee that held. */
  heavierAtKnee: boolean
  /** The step down such a reading at a knee started (see `slowdownEnded` in trial-conclusion.ts). */
  kneeSlowdown: KneeSlowdown | undefined
  /**
   * A hasty step up, or a leap or surge that paid in part: check it with a step down once settled (one step,
   * or to `checkDownTo`; see the policy's class comment).
   */
  checkFromAbove: boolean
  /**
   * Times connections above the current size were found idle since the pool last grew or the load got
   * heavier: steps down kept, or a knee found right above it.
   */
  idleAbove: number
  /**
   * The size a burst's first step reached (its own step: the size the calm left; see the 'knee' verdict).
   * Forgotten when a window shows no pressure or a heavier load.
   */
  burstReached: number | undefined
  /** A step down checked the size `burstReached` found. */
  burstChecked: boolean
  /** Where the check from above steps down to, when not one step (after a surge that paid in part). */
  checkDownTo: number | undefined
  /** The knee whose size the step down under way checks from below (see the 'keep' and 'restore' verdicts). */
  checkedKnee: number | undefined
  /** That knee was found by a burst's own step (a check that refutes it, see 'restore'). */
  checkingOwnStep: boolean
}

/** The state of a policy that has taken no step yet. */
export function initialStepState(): StepState {
  return {
    trial: undefined,
    momentum: 'probe',
    descending: false,
    heavier: undefined,
    heavierAtKnee: false,
    kneeSlowdown: undefined,
    checkFromAbove: false,
    checkDownTo: undefined,
    idleAbove: 0,
    burstReached: undefined,
    burstChecked: false,
    checkedKnee: undefined,
    checkingOwnStep: false,
  }
}

/** The config fields the step functions read (from the adaptive config). */
export type StepRules = Pick<ResolvedAdaptiveConfig, 'minSize' | 'probeFactor' | 'kneeWindows' | 'leapEfficiency'>

/** What the step functions use besides the state: the config, and the knee and windows the policy keeps. */
export interface StepContext {
  readonly rules: StepRules
  readonly knee: KneeHold
  readonly level: LoadLevel
}

/** Whether a step from `from` to `to` is of more than one probe. */
export function leaps(from: number, to: number, probeFactor: number): boolean {
  return to > Math.ceil(from * probeFactor - 1e-9)
}
