/**
 * `@lifeguard/core`: the pool registry and pool contract, lifecycle events and metrics bookkeeping shared
 * by every database adapter, the `ServiceContainer`, `OperationContext` and `runOperation`.
 * No runtime dependencies beyond `node:` built-ins.
 *
 * @packageDocumentation
 */

export {
  LifeguardError,
  InvalidOptionError,
  RegistrationError,
  ResolutionError,
  DisposedError,
  ContextUnavailableError,
  PoolNotFoundError,
  PoolTimeoutError,
  PoolExhaustedError,
  PoolClosedError,
  PoolWarmupError,
  OperationAbortedError,
} from './errors.js'
export type { ResolutionFailure } from './errors.js'

export { validateOptions, checkOption, rejectOption } from './options.js'
export type { OptionRule, OptionRules } from './options.js'

export { redactConnectionString, redactText, redactError, formatTarget } from './redact.js'
export type { TargetParts } from './redact.js'

export type {
  ManagedPool,
  PoolMetrics,
  TimeSummary,
  WarmupReport,
  WarmupOptions,
  PoolSize,
  ResizeOptions,
  PoolState,
  PoolEventsOption,
} from './pool-contract.js'

export { PoolEventHub } from './pool-events.js'
export type {
  PoolEventMap,
  PoolEventName,
  PoolEventListeners,
  OperationOwner,
  DisconnectReason,
  ConnectEvent,
  DisconnectEvent,
  PoolErrorEvent,
  PoolCreatedEvent,
  AcquireEvent,
  ReleaseEvent,
  ResizeEvent,
  LeakEvent,
  TimeoutEvent,
} from './pool-events.js'

export { TimeWindow } from './time-window.js'
export { PoolStats } from './pool-stats.js'
export type { LivePoolState } from './pool-stats.js'
export { PoolMonitor, ownerOf } from './pool-monitor.js'
export type { PoolMonitorOptions, Checkout } from './pool-monitor.js'
export { AdmissionQueue } from './admission-queue.js'
export type { AdmissionQueueOptions } from './admission-queue.js'

export { PoolRegistry, createPoolRegistry } from './pool-registry.js'
export type { RegistryWarmupReport, RegistryListener } from './pool-registry.js'

export { ServiceContainer, ServiceScope, createServiceContainer } from './service-container.js'
export type { Lifetime, ServiceResolver, ServiceFactory, RegistrationOptions, ServiceContainerOptions } from './service-container.js'

export { OperationContext, CONTEXT_SERVICE } from './operation-context.js'
export type { OperationContextOptions } from './operation-context.js'
export { runOperation } from './run-operation.js'
export type { RunOperationOptions } from './run-operation.js'

export { requestIdFrom, poolPressureCode, poolPressureBody, middlewareOptionRules, mapErrorsRule, retryAfterFrom } from './http-support.js'
