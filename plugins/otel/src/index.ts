/**
 * `@lifeguard/otel`: the pools of a Lifeguard registry reported through OpenTelemetry, following the
 * semantic conventions for database client metrics, correctly per pool. Depends on `@opentelemetry/api`
 * only; bring your own SDK and exporter.
 *
 * @packageDocumentation
 */

export { instrumentPools, meterName } from './instrument-pools.js'
export type { InstrumentPoolsOptions, PoolInstrumentation, InstrumentedRegistry } from './instrument-pools.js'
export { metricNames, attributeNames, operationDurationBuckets, poolTimeBuckets } from './semantic-conventions.js'
