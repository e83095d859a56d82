// A real OpenTelemetry SDK pipeline for tests: MeterProvider -> PeriodicExportingMetricReader ->
// InMemoryMetricExporter, flushed on demand.
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ScopeMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics'
import type { Attributes } from '@opentelemetry/api'
import * as assert from 'uvu/assert'

/** A MeterProvider whose metrics a test reads with `collect()`. */
export interface MetricsHarness {
  readonly meterProvider: MeterProvider
  /** Flushes the reader and returns every metric it exported now. */
  collect(): Promise<MetricData[]>
  /** The same, by instrumentation scope (meter name). */
  collectScopes(): Promise<ScopeMetrics[]>
  shutdown(): Promise<void>
}

export function createMetricsHarness(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE, views: ViewOptions[] = []): MetricsHarness {
  const exporter = new InMemoryMetricExporter(temporality)
  // Never exports on its own: tests flush when they want a reading.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: 5_000 })
  const meterProvider = new MeterProvider({ readers: [reader], views })
  const collectScopes = async () => {
    exporter.reset()
    await reader.forceFlush()
    return exporter.getMetrics().flatMap((resource) => resource.scopeMetrics)
  }
  return {
    meterProvider,
    collectScopes,
    async collect() {
      return (await collectScopes()).flatMap((scope) => scope.metrics)
    },
    async shutdown() {
      await meterProvider.shutdown()
    },
  }
}

/** The metric named `name`; fails the test when it is absent. */
export function metric(metrics: readonly MetricData[], name: string): MetricData {
  const found = metrics.find((m) => m.descriptor.name === name)
  if (found === undefined) assert.unreachable(`Expected metric '${name}', got: ${metrics.map((m) => m.descriptor.name).join(', ')}`)
  return found as MetricData
}

/** The data point of `data` whose attributes include all of `attributes`, or undefined. */
export function findPoint(data: MetricData, attributes: Attributes): DataPoint<unknown> | undefined {
  return (data.dataPoints as DataPoint<unknown>[]).find((point) =>
    Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
  )
}

/** The value of the sum or gauge point matching `attributes`; fails when there is none. */
export function valueOf(metrics: readonly MetricData[], name: string, attributes: Attributes): number {
  const data = metric(metrics, name)
  assert.ok(data.dataPointType === DataPointType.SUM || data.dataPointType === DataPointType.GAUGE, `${name} is not a sum or gauge`)
  const point = findPoint(data, attributes)
  if (point === undefined) assert.unreachable(`Expected a point of '${name}' with ${JSON.stringify(attributes)}`)
  return (point as DataPoint<number>).value
}

/** The histogram point of `name` matching `attributes`; fails when there is none. */
export function histogramOf(metrics: readonly MetricData[], name: string, attributes: Attributes): Histogram {
  const data = metric(metrics, name)
  assert.is(data.dataPointType, DataPointType.HISTOGRAM, `${name} is not a histogram`)
  const point = findPoint(data, attributes)
  if (point === undefined) assert.unreachable(`Expected a point of '${name}' with ${JSON.stringify(attributes)}`)
  return (point as DataPoint<Histogram>).value
}

/** Every attribute value of every point of every metric, for secret scans. */
export function allAttributeValues(metrics: readonly MetricData[]): string[] {
  return metrics.flatMap((m) => (m.dataPoints as DataPoint<unknown>[]).flatMap((p) => Object.values(p.attributes).map(String)))
}
