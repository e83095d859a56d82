import { ValueType, type Counter, type Histogram, type Meter, type ObservableCounter, type ObservableUpDownCounter } from '@opentelemetry/api'
import { metricNames, operationDurationBuckets, poolTimeBuckets } from '../semantic-conventions.js'

/** Every instrument the plugin records to, created once per `instrumentPools()` call. */
export interface PoolInstruments {
  readonly connectionCount: ObservableUpDownCounter
  readonly idleMax: ObservableUpDownCounter
  readonly idleMin: ObservableUpDownCounter
  readonly limit: ObservableUpDownCounter
  readonly pendingRequests: ObservableUpDownCounter
  readonly timeouts: Counter
  readonly createTime: Histogram
  readonly waitTime: Histogram
  readonly useTime: Histogram
  readonly operationDuration: Histogram | undefined
  readonly errors: Counter
  readonly leaks: Counter
  readonly resizes: Counter
  readonly outsideConnections: ObservableUpDownCounter
  readonly rejections: ObservableCounter
}

/** Creates the instruments with the units, descriptions and bucket advice of the conventions. */
export function createPoolInstruments(meter: Meter, withOperationDuration: boolean): PoolInstruments {
  const gauge = (name: string, unit: string, description: string): ObservableUpDownCounter =>
    meter.createObservableUpDownCounter(name, { unit, description, valueType: ValueType.INT })
  const counter = (name: string, unit: string, description: string): Counter =>
    meter.createCounter(name, { unit, description, valueType: ValueType.INT })
  const seconds = (name: string, description: string, buckets: readonly number[]): Histogram =>
    meter.createHistogram(name, { unit: 's', description, valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: [...buckets] } })
  return {
    connectionCount: gauge(metricNames.connectionCount, '{connection}', 'The number of connections that are currently in state described by the `state` attribute.'),
    idleMax: gauge(metricNames.idleMax, '{connection}', 'The maximum number of idle open connections allowed.'),
    idleMin: gauge(metricNames.idleMin, '{connection}', 'The minimum number of idle open connections allowed.'),
    limit: gauge(metricNames.limit, '{connection}', 'The maximum number of open connections allowed.'),
    pendingRequests: gauge(metricNames.pendingRequests, '{request}', 'The number of current pending requests for an open connection.'),
    timeouts: counter(metricNames.timeouts, '{timeout}', 'The number of connection timeouts that have occurred trying to obtain a connection from the pool.'),
    createTime: seconds(metricNames.createTime, 'The time it took to create a new connection.', poolTimeBuckets),
    waitTime: seconds(metricNames.waitTime, 'The time it took to obtain an open connection from the pool.', poolTimeBuckets),
    useTime: seconds(metricNames.useTime, 'The time between borrowing a connection and returning it to the pool.', poolTimeBuckets),
    operationDuration: withOperationDuration ? seconds(metricNames.operationDuration, 'Duration of database client operations.', operationDurationBuckets) : undefined,
    errors: counter(metricNames.errors, '{error}', 'Pool and connection errors, by source.'),
    leaks: counter(metricNames.leaks, '{leak}', 'Connections held longer than the leak detection threshold.'),
    resizes: counter(metricNames.resizes, '{resize}', 'Changes of the pool size, by direction.'),
    outsideConnections: gauge(metricNames.outsideConnections, '{connection}', 'Connections outside the pool\'s count that still hold a server connection, by state: parked after a shrink, or closing.'),
    // Read from the pool's counters at each collection: no event tells of them.
    rejections: meter.createObservableCounter(metricNames.rejections, { unit: '{request}', description: 'Requests for a connection refused at once (exhausted) or ended by their operation (aborted), by reason.', valueType: ValueType.INT }),
  }
}

/** The observable instruments, for `addBatchObservableCallback`. */
export function observables(instruments: PoolInstruments): (ObservableUpDownCounter | ObservableCounter)[] {
  return [instruments.connectionCount, instruments.idleMax, instruments.idleMin, instruments.limit, instruments.pendingRequests, instruments.outsideConnections, instruments.rejections]
}
