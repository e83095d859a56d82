// The Prometheus names the OpenTelemetry Prometheus exporter gives this plugin's instruments. The
// exposition test proves the exporter produces exactly these; the dashboard and rules tests prove they
// reference nothing else.

/** Metric families (a histogram's `_bucket`, `_sum` and `_count` series belong to its family). */
export const prometheusFamilies = {
  'db_client_connection_count': 'gauge',
  'db_client_connection_idle_max': 'gauge',
  'db_client_connection_idle_min': 'gauge',
  'db_client_connection_limit': 'gauge',
  'db_client_connection_pending_requests': 'gauge',
  'db_client_connection_timeouts_total': 'counter',
  'db_client_connection_create_time': 'histogram',
  'db_client_connection_wait_time': 'histogram',
  'db_client_connection_use_time': 'histogram',
  'db_client_operation_duration': 'histogram',
  'lifeguard_pool_errors_total': 'counter',
  'lifeguard_pool_leaks_total': 'counter',
  'lifeguard_pool_resizes_total': 'counter',
  'lifeguard_pool_connections': 'gauge',
  'lifeguard_pool_rejections_total': 'counter',
} as const

/** Label names the plugin's attributes become. */
export const prometheusLabels = [
  'db_client_connection_pool_name',
  'db_client_connection_state',
  'db_system_name',
  'db_operation_name',
  'lifeguard_operation_handler',
  'lifeguard_operation_name',
  'lifeguard_error_source',
  'lifeguard_resize_direction',
  'lifeguard_connection_state',
  'lifeguard_rejection_reason',
] as const

/** Every series name a query may use: gauges and counters as they are, histograms with their suffixes. */
export function seriesNames(): Set<string> {
  const names = new Set<string>()
  for (const [family, type] of Object.entries(prometheusFamilies)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix)
    else names.add(family)
  }
  return names
}

/** The plugin's metric names a PromQL expression uses (label names are not counted). */
export function metricNamesIn(expr: string): string[] {
  const labels = new Set<string>(prometheusLabels)
  const tokens = expr.replace(/"[^"]*"/g, '""').match(/\b(?:db_client|lifeguard)_[a-z0-9_]+\b/g) ?? []
  return [...new Set(tokens.filter((token) => !labels.has(token)))]
}
