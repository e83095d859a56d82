import { createPoolRegistry, type ResizeEvent } from '@lifeguard/core'
import { createPostgresPool, type PostgresPool } from '@lifeguard/postgres'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { autoscale, withDynamicSizing, type AdaptivePoolConfig, type DynamicPoolConfig } from '../src/index.js'
import { closedLoop, ConnectionObserver, pgConfig, uniqueAppName } from './_helpers/pg-server.js'

const observer = new ConnectionObserver()
const sleepQuery = 'SELECT pg_sleep(0.02)'

function createPool(appName: string): PostgresPool {
  return createPostgresPool({ name: 'step', ...pgConfig(), applicationName: appName, maxSize: 4, idleTimeoutMillis: 2000 })
}

/** Samples the pool's size and the server's count for `appName` every 50 ms until `done` settles. */
async function watch(pool: PostgresPool, appName: string, done: Promise<unknown>): Promise<{ maxSize: number; server: number }> {
  const peak = { maxSize: 0, server: 0 }
  let finished = false
  void done.finally(() => {
    finished = true
  })
  while (!finished) {
    peak.maxSize = Math.max(peak.maxSize, pool.getPoolMetrics().maxSize)
    peak.server = Math.max(peak.server, await observer.count(appName))
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return peak
}

const postgres = suite('autoscale on a real PostgreSQL pool')

postgres.after(async () => {
  await observer.end()
})

postgres('the adaptive policy grows the pool during a burst and shrinks it after; the server follows and no request fails', async () => {
  const appName = uniqueAppName('autoscale-adaptive')
  const registry = createPoolRegistry()
  const pool = registry.register(createPool(appName))
  const resizes: ResizeEvent[] = []
  pool.on('resize', (event) => void resizes.push(event))
  // The connections a shrink leaves over stay open for 300 ms (for a grow to reuse), then close.
  const config: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 24, evaluationIntervalMillis: 100, scaleDownDelayMillis: 500, cooldownMillis: 500, keepSurplusMillis: 300 }
  const scaler = autoscale(registry, { pools: { step: config } })
  const tally = { ok: 0, failed: 0, errors: [] as unknown[] }
  const work = () => pool.query(sleepQuery)
  try {
    await closedLoop(work, 2, 1000, tally)
    const calm = pool.getPoolMetrics().maxSize
    const burst = closedLoop(work, 30, 2000, tally)
    const peak = await watch(pool, appName, burst)
    await burst
    assert.ok(peak.maxSize >= 12, `grew from ${calm} to ${peak.maxSize} during the burst`)
    assert.ok(peak.server >= 12 && peak.server <= 24, `the server held ${peak.server} connections at the peak`)
    await closedLoop(work, 2, 2000, tally)
    const after = pool.getPoolMetrics().maxSize
    assert.ok(after <= 6, `shrank back to ${after} after the burst`)
    await observer.waitFor(appName, (count) => count <= after, `<= ${after}`)
    assert.is(tally.failed, 0, `failures: ${tally.errors.map(String).join('; ')}`)
    assert.ok(tally.ok > 500, `${tally.ok} queries`)
    assert.ok(resizes.length >= 2)
    for (const event of resizes) {
      assert.match(event.reason, /^autoscale:(adaptive|bounds)/)
      assert.ok(event.next.maxSize >= 2 && event.next.maxSize <= 24, `bounds hold: ${event.next.maxSize}`)
      assert.ok(event.details !== undefined)
    }
    assert.ok(resizes.some((e) => e.next.maxSize > e.previous.maxSize) && resizes.some((e) => e.next.maxSize < e.previous.maxSize))
  } finally {
    scaler.stop()
    await registry.close()
  }
  await observer.waitFor(appName, (count) => count === 0, '0')
})

postgres('the seed`s setDynamicPoolConfig grows by the increment at the up-threshold and shrinks at the down-threshold', async () => {
  const appName = uniqueAppName('autoscale-threshold')
  const pool = withDynamicSizing(createPool(appName))
  const config: DynamicPoolConfig = {
    enabled: true,
    minSize: 2,
    maxSize: 16,
    scaleUpThreshold: 80,
    scaleDownThreshold: 30,
    scaleUpIncrement: 4,
    scaleDownIncrement: 4,
    evaluationInterval: 100,
  }
  const resizes: ResizeEvent[] = []
  pool.on('resize', (event) => void resizes.push(event))
  const tally = { ok: 0, failed: 0, errors: [] as unknown[] }
  const work = () => pool.query(sleepQuery)
  try {
    pool.setDynamicPoolConfig(config)
    const burst = closedLoop(work, 24, 1500, tally)
    const peak = await watch(pool, appName, burst)
    await burst
    assert.is(peak.maxSize, 16)
    assert.ok(peak.server > 4 && peak.server <= 16, `the server held ${peak.server}`)
    await closedLoop(work, 1, 1000, tally)
    const after = pool.getPoolMetrics().maxSize
    assert.ok(after <= 4, `shrank to ${after}`)
    await observer.waitFor(appName, (count) => count <= after, `<= ${after}`)
    const ups = resizes.filter((e) => e.reason === 'autoscale:threshold-up')
    assert.ok(ups.length >= 3)
    assert.ok(ups.every((e) => e.next.maxSize - e.previous.maxSize === 4 || e.next.maxSize === 16))
    assert.ok(ups.every((e) => (e.details?.['utilization'] ?? 0) >= 80))
    assert.ok(resizes.some((e) => e.reason === 'autoscale:threshold-down'))
    assert.is(tally.failed, 0, `failures: ${tally.errors.map(String).join('; ')}`)
  } finally {
    pool.setDynamicPoolConfig({ ...config, enabled: false })
    await pool.close()
  }
  await observer.waitFor(appName, (count) => count === 0, '0')
})

postgres('stop() leaves the pool at its current size while the load goes on', async () => {
  const appName = uniqueAppName('autoscale-stop')
  const registry = createPoolRegistry()
  const pool = registry.register(createPool(appName))
  const scaler = autoscale(registry, { pools: { step: { policy: 'adaptive', minSize: 2, maxSize: 20, evaluationIntervalMillis: 100 } } })
  const tally = { ok: 0, failed: 0, errors: [] as unknown[] }
  try {
    await closedLoop(() => pool.query(sleepQuery), 20, 800, tally)
    scaler.stop()
    const stopped = pool.getPoolMetrics().maxSize
    assert.ok(stopped > 4, `grew to ${stopped} before stop()`)
    await closedLoop(() => pool.query(sleepQuery), 1, 800, tally)
    assert.is(pool.getPoolMetrics().maxSize, stopped)
    assert.is(tally.failed, 0)
  } finally {
    await registry.close()
  }
  await observer.waitFor(appName, (count) => count === 0, '0')
})

postgres.run()
