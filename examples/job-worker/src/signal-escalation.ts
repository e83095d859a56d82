import type { Clock, ClockTimer } from '@lifeguard/core'
import { systemClock } from '@lifeguard/core/adapter'

/** What a shutdown signal asks for: the graceful shutdown, nothing (a copy of one already taken), or to stop at once. */
export type SignalRequest = 'shut-down' | 'ignore' | 'force'

/** Options of {@link createSignalEscalation}. */
export interface SignalEscalationOptions {
  /**
   * How long after the first signal a repeat is taken for a copy of it; default 1000. A terminal's Ctrl-C can
   * reach a process twice within milliseconds (directly, and relayed by npm); a person pressing again takes longer.
   */
  readonly graceMillis?: number
  /** Where the grace is timed; a test passes a manual clock. */
  readonly clock?: Clock
  /** Called once, when the grace has passed and the shutdown still runs: from now on a repeat forces. */
  readonly onForceAvailable?: () => void
}

/** Tells the signals of one shutdown apart. */
export interface SignalEscalation {
  /** What the signal that just arrived asks for. */
  receive(): SignalRequest
  /** The shutdown has ended: later signals are ignored, and `onForceAvailable` is not called. */
  settle(): void
}

/**
 * The first signal shuts down gracefully; another one after `graceMillis` forces; one within the grace, one
 * after a force, and any after `settle()` are ignored.
 *
 * Timed, not told by arrival order alone: a copy relayed by npm and a second press are both "the next signal".
 *
 * @example
 * const escalation = createSignalEscalation({ onForceAvailable: () => log('Ctrl-C again to stop at once') })
 * process.on('SIGINT', () => escalation.receive() === 'force' ? process.exit(1) : undefined)
 */
export function createSignalEscalation(options: SignalEscalationOptions = {}): SignalEscalation {
  const { graceMillis = 1_000, clock = systemClock, onForceAvailable } = options
  let phase: 'running' | 'grace' | 'forceable' | 'over' = 'running'
  let timer: ClockTimer | undefined
  return {
    receive() {
      switch (phase) {
        case 'running':
          phase = 'grace'
          // In the background: a shutdown with nothing left to do must not wait for it.
          timer = clock.setTimeout(
            () => {
              if (phase !== 'grace') return
              phase = 'forceable'
              onForceAvailable?.()
            },
            graceMillis,
            true,
          )
          return 'shut-down'
        case 'forceable':
          phase = 'over'
          return 'force'
        default:
          return 'ignore'
      }
    },
    settle() {
      phase = 'over'
      if (timer !== undefined) clock.clearTimeout(timer)
    },
  }
}
