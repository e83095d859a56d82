import type { Clock, ClockTimer } from '@lifeguard/core'
import { systemClock } from '@lifeguard/core/adapter'
import { createSignalEscalation, type SignalEscalation } from './signal-escalation.js'

/** What {@link onShutdownSignal} calls. */
export interface ShutdownHandlers {
  /** The first signal, or `npm start` gone: the graceful shutdown begins. `why` opens its log line. */
  shutdown(why: string): void
  /** A second signal, once the grace has passed: stop at once. */
  force(why: string): void
}

/** Where {@link onShutdownSignal} meets the process; a test passes its own. */
export interface ShutdownHost {
  /** Emits `'SIGTERM'`, `'SIGINT'` and `'SIGHUP'`. */
  readonly signals: { on(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown }
  /** The pid of the `npm start` to watch, if started by one (`JOB_WORKER_PARENT_PID`). */
  readonly npmPid: number | undefined
  /** This process's parent pid, now. */
  parentPid(): number
  /** Times the grace and the watch of `npm start`; every timer runs in the background. */
  readonly clock: Clock
}

const npmPid = Number(process.env['JOB_WORKER_PARENT_PID'])

const processHost: ShutdownHost = {
  signals: process,
  npmPid: Number.isInteger(npmPid) && npmPid > 0 ? npmPid : undefined,
  parentPid: () => process.ppid,
  clock: systemClock,
}

/** How often `npm start` is looked for. */
const watchMillis = 500

/**
 * Calls `shutdown` on the first SIGINT, SIGTERM or SIGHUP (the terminal closed: by default it would end the
 * process with its jobs stalled), or when the `npm start` that started the worker is gone (killed outright, it
 * passes no signal on, but the worker is re-parented: it must not live on unsupervised, taking jobs beside the
 * one started in its place). A second signal, a second or more after the first, calls `force`; one sooner is a
 * copy (a terminal's Ctrl-C reaches the worker directly and relayed by npm). `npm start` is watched only until a
 * shutdown begins: its going then (a closed terminal sends SIGTERM, then npm ends) is no second signal.
 *
 * @returns the escalation, to `settle()` when the shutdown has ended
 * @example
 * const escalation = onShutdownSignal({ shutdown: (why) => close(why), force: () => process.exit(1) }, log)
 */
export function onShutdownSignal(handlers: ShutdownHandlers, log: (line: string) => void, host: ShutdownHost = processHost): SignalEscalation {
  const { clock } = host
  const escalation = createSignalEscalation({
    clock,
    onForceAvailable: () => log('still shutting down: press Ctrl-C again (or send another SIGTERM) to stop at once'),
  })
  let watch: ClockTimer | undefined
  const handle = (why: string): void => {
    const request = escalation.receive()
    if (request === 'force') return handlers.force(why)
    if (request === 'ignore') return
    if (watch !== undefined) clock.clearTimeout(watch)
    handlers.shutdown(why)
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) host.signals.on(signal, () => handle(`${signal} received`))
  const npm = host.npmPid
  if (npm !== undefined) {
    const look = (): void => {
      watch = undefined
      if (host.parentPid() !== npm) return handle('npm start is gone')
      watch = clock.setTimeout(look, watchMillis, true)
    }
    watch = clock.setTimeout(look, watchMillis, true)
  }
  return escalation
}
