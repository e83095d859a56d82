/**
 * `@lifeguard/core`: what a service uses: the pool registry and the pool contract, lifecycle events,
 * the `ServiceContainer`, `OperationContext`, `runOperation` and the typed errors. No runtime
 * dependencies beyond `node:` built-ins.
 *
 * Two more entries serve other audiences: `@lifeguard/core/adapter` (for database adapter authors:
 * pool bookkeeping, option rules, redaction, the clock) and `@lifeguard/core/http` (for framework
 * adapters).
 *
 * @packageDocumentation
 */

export {
  LifeguardError,
  InvalidOptionError,
  RegistrationError,
  ResolutionError,
  DisposedError,
  DisposeTimeoutError,
  ContextUnavailableError,
  PoolNotFoundError,
  PoolTimeoutError,
  PoolExhaustedError,
  PoolClosedError,
  PoolCloseTimeoutError,
  PoolWarmupError,
  OperationAbortedError,
  ConnectionLostError,
  DisposeFailedError,
  RegistryWarmupError,
  RegistryCloseError,
} from './errors.js'
export type { ResolutionFailure } from './errors.js'

export type {
  ManagedPool,
  PoolMetrics,
  PoolCounters,
  DurationTotals,
  TimeSummary,
  WarmupReport,
  WarmupOptions,
  PoolSize,
  ResizeOptions,
  PoolState,
  PoolEventsOption,
  SoftEvictReport,
  PoolEventSource,
} from './pool-contract.js'

export type {
  PoolEventBase,
  Listener,
  PoolEventMap,
  PoolEventName,
  PoolEventListeners,
  ConnectionEvents,
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
  SuspendEvent,
  ResumeEvent,
  QueryEvent,
} from './pool-events.js'

export { PoolRegistry, createPoolRegistry } from './pool-registry.js'
export type { RegistryWarmupReport, RegistryListener, PoolRegistryOptions } from './pool-registry.js'

export { ServiceContainer, ServiceScope, createServiceContainer } from './service-container.js'
export type { Lifetime, ServiceResolver, ServiceFactory, RegistrationOptions, ServiceContainerOptions, ScopeServices } from './service-container.js'
export type { Clock, ClockTimer } from './clock.js'

export { OperationContext, CONTEXT_SERVICE } from './operation-context.js'
export type { OperationContextOptions } from './operation-context.js'
export { runOperation } from './run-operation.js'
export type { RunOperationOptions } from './run-operation.js'
