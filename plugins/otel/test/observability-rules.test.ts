import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { metricNamesIn, seriesNames } from './_helpers/prometheus-names.js'
import { observabilityDir, promtool } from './_helpers/promtool.js'

interface DashboardPanel {
  type: string
  title: string
  targets?: { expr: string }[]
}

const rules = suite('Prometheus alert rules and Grafana dashboard')

async function dashboardPanels(): Promise<DashboardPanel[]> {
  const dashboard = JSON.parse(await readFile(join(observabilityDir, 'lifeguard-pools.dashboard.json'), 'utf8')) as { panels: DashboardPanel[] }
  return dashboard.panels.filter((panel) => panel.type !== 'row')
}

async function ruleExpressions(): Promise<{ alert: string; expr: string }[]> {
  const text = await readFile(join(observabilityDir, 'lifeguard-pools.rules.yml'), 'utf8')
  // The rules file keeps each expression in a `expr: |` block right after its `alert:` line.
  return [...text.matchAll(/- alert: (\w+)\n\s+#[^\n]*\n(?:\s+#[^\n]*\n)*\s+expr: \|\n((?:\s{10,}[^\n]*\n)+)/g)].map((m) => ({ alert: m[1] as string, expr: m[2] as string }))
}

rules('promtool check rules accepts the alert rules', async () => {
  const result = await promtool(['check', 'rules', 'lifeguard-pools.rules.yml'])
  assert.is(result.code, 0, result.output)
  assert.match(result.output, /SUCCESS: 4 rules found/)
})

rules('promtool test rules passes the unit tests of every alert', async () => {
  const result = await promtool(['test', 'rules', 'lifeguard-pools.rules.test.yml'])
  assert.is(result.code, 0, result.output)
  assert.match(result.output, /SUCCESS/)
  const tests = await readFile(join(observabilityDir, 'lifeguard-pools.rules.test.yml'), 'utf8')
  for (const alert of ['LifeguardPoolExhausted', 'LifeguardPoolHighWaitTime', 'LifeguardPoolErrorRateRising', 'LifeguardPoolTurningRequestsAway']) {
    assert.match(tests, new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${alert} has a firing case`)
    assert.match(tests, new RegExp(`alertname: ${alert}\\n\\s+exp_alerts: \\[\\]`), `${alert} has a silent case`)
  }
})

rules('alert rules use only the metric names the exporter produces', async () => {
  const known = seriesNames()
  const expressions = await ruleExpressions()
  assert.is(expressions.length, 4)
  for (const { alert, expr } of expressions) {
    const names = metricNamesIn(expr)
    assert.ok(names.length > 0, `${alert} reads some metric`)
    for (const name of names) assert.ok(known.has(name), `${alert} uses unknown metric '${name}'`)
  }
})

rules('the dashboard has the panels operators need, on metric names the exporter produces', async () => {
  const panels = await dashboardPanels()
  const titles = panels.map((panel) => panel.title)
  for (const title of ['Connections used / idle / max', 'Pending requests', 'Connection wait time p95', 'Timeouts', 'Errors', 'Operation duration p95 by route']) {
    assert.ok(titles.includes(title), `panel '${title}'`)
  }
  const known = seriesNames()
  const used = new Set<string>()
  for (const panel of panels) {
    assert.ok((panel.targets ?? []).length > 0, `panel '${panel.title}' has queries`)
    for (const { expr } of panel.targets ?? []) {
      for (const name of metricNamesIn(expr)) {
        assert.ok(known.has(name), `panel '${panel.title}' uses unknown metric '${name}'`)
        used.add(name)
      }
    }
  }
  for (const name of ['db_client_connection_count', 'db_client_connection_limit', 'db_client_connection_pending_requests', 'db_client_connection_wait_time_bucket', 'db_client_connection_timeouts_total', 'lifeguard_pool_errors_total', 'db_client_operation_duration_bucket']) {
    assert.ok(used.has(name), `the dashboard shows ${name}`)
  }
})

rules('every dashboard query is valid PromQL (checked by promtool as recording rules)', async () => {
  const panels = await dashboardPanels()
  const expressions = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr))
  // Grafana's variables, replaced by what they expand to with "All" selected.
  const promql = expressions.map((expr) => expr.replaceAll('$__rate_interval', '5m').replace(/\$(job|instance|pool)\b/g, '.*'))
  const lines = ['groups:', '  - name: dashboard', '    rules:']
  promql.forEach((expr, index) => lines.push(`      - record: dashboard:query_${index}`, `        expr: ${JSON.stringify(expr)}`))
  const dir = await mkdtemp(join(tmpdir(), 'lifeguard-dashboard-'))
  try {
    await writeFile(join(dir, 'dashboard.rules.yml'), lines.join('\n') + '\n')
    const result = await promtool(['check', 'rules', 'dashboard.rules.yml'], { cwd: dir })
    assert.is(result.code, 0, result.output)
    assert.match(result.output, new RegExp(`SUCCESS: ${expressions.length} rules found`))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

rules.run()
