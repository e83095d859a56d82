// The README's `createMetricsEndpoint`, verbatim, so the snippet users copy is the one under test.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PoolRegistry } from '@lifeguard/core'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { instrumentPools } from '../../src/index.js'

export function createMetricsEndpoint(registry: PoolRegistry) {
  const exporter = new PrometheusExporter({ preventServerStart: true })
  const meterProvider = new MeterProvider({ readers: [exporter] })
  // routeAttributes: database time per route, as the example dashboard shows it.
  const instrumentation = instrumentPools(registry, { meterProvider, routeAttributes: true })
  return {
    /** Writes the Prometheus exposition of every pool. */
    handle: (request: IncomingMessage, response: ServerResponse) => exporter.getMetricsRequestHandler(request, response),
    async close() {
      instrumentation.stop()
      await meterProvider.shutdown()
    },
  }
}
