/**
 * `@lifeguard/core/adapter`: the parts a database adapter is built from: the pool bookkeeping
 * (`PoolMonitor`, `PoolStats`, `TimeWindow`, `PoolEventHub`), bounded admission (`AdmissionQueue`), option
 * rules that throw `InvalidOptionError` (durations, listener maps, the arguments of `warmup`/`resize`/`close`), redaction of secrets, and the injectable `Clock`.
 * Applications do not need this entry; they use `@lifeguard/core`.
 *
 * @packageDocumentation
 */

export { validateOptions, checkOption, satisfiesRule, rejectOption, poolNameRule, shownText, shownName, looksLikeCredentials, holdsCredentials, hasControlCharacter, MAX_TIMER_MILLIS, MAX_POOL_SIZE } from './options.js'
export type { OptionRule, OptionRules } from './options.js'
export { containerRule } from './service-container.js'
export { abortedByItsEnd, contextRule, liveOperation, refusedForAbort, watchAbort } from './operation-hooks.js'
export { checkWarmupOptions, checkCloseOptions, resolveResize } from './call-options.js'
export type { SizeBounds } from './call-options.js'

export { redactConnectionString, redactText, redactError, formatTarget } from './redact.js'
export type { TargetParts } from './redact.js'

export { controlQuery } from './control-query.js'
export { outsideOperations } from './context-storage.js'
export { reportToUser } from './report-to-user.js'
export type { ControlQuery } from './control-query.js'
export { clockRule, systemClock } from './clock.js'
export type { Clock, ClockTimer } from './clock.js'

export { PoolEventHub, poolEventsRule } from './pool-events.js'
export { TimeWindow } from './time-window.js'
export { PoolStats } from './pool-stats.js'
export type { LivePoolState } from './pool-stats.js'
export { PoolMonitor, ownerOf } from './pool-monitor.js'
export type { PoolMonitorOptions, Checkout } from './pool-monitor.js'
export { AdmissionQueue } from './admission-queue.js'
export type { AdmissionQueueOptions } from './admission-queue.js'

export { PoolEngine } from './pool/pool-engine.js'
export type { PoolEngineOptions } from './pool/engine-options.js'
export { PooledConnection } from './pool/pooled-connection.js'
export type { ConnectionState } from './pool/pooled-connection.js'
export type { ConnectionFactory, CreateAttempt } from './pool/connection-factory.js'
export type { Grant } from './pool/wait-queue.js'
export { PoolLifecycle } from './pool/pool-lifecycle.js'
export { DrainWait } from './pool/drain-wait.js'
export type { WarmupPlan } from './pool/pool-lifecycle.js'
