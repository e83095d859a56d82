import type { PoolRegistry } from '@lifeguard/core'
import { instrumentPools } from '@lifeguard/otel'
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import { MeterProvider } from '@opentelemetry/sdk-metrics'

/** Prometheus metrics of the service's pools, served by the service itself on `GET /metrics`. */
export interface PrometheusMetrics {
  /** The exposition text for one scrape. */
  scrape(): Promise<string>
  /** `Content-Type` of `scrape()`'s text. */
  readonly contentType: string
  /** Stops reporting and shuts the SDK down. Idempotent. */
  close(): Promise<void>
}

/**
 * Reports every pool of `registry` through OpenTelemetry (`@lifeguard/otel`) into a Prometheus reader
 * that the service's own HTTP server exposes, so there is no second port to open. The resource's
 * `service.name` is `serviceName` unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
 *
 * @example
 * const metrics = createPrometheusMetrics(registry, 'orders-api')
 * app.get('/metrics', async (_req, res) => res.type(metrics.contentType).send(await metrics.scrape()))
 */
export function createPrometheusMetrics(registry: PoolRegistry, serviceName: string): PrometheusMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true })
  // The SDK's default is `unknown_service:<path of node>`; the environment wins over the name given here.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': serviceName }))
    .merge(detectResources({ detectors: [envDetector] }))
  const meterProvider = new MeterProvider({ readers: [exporter], resource })
  // routeAttributes: database time per route, which the example dashboard shows.
  const instrumentation = instrumentPools(registry, { meterProvider, routeAttributes: true })
  const serializer = new PrometheusSerializer()
  let closing: Promise<void> | undefined
  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    async scrape() {
      const { resourceMetrics } = await exporter.collect()
      return serializer.serialize(resourceMetrics)
    },
    close() {
      closing ??= (async () => {
        instrumentation.stop()
        await meterProvider.shutdown()
      })()
      return closing
    },
  }
}
