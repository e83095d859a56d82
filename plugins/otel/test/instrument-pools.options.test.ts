import { createPoolRegistry, InvalidOptionError, RegistrationError, type PoolRegistry } from '@lifeguard/core'
import { metrics } from '@opentelemetry/api'
import { captureWarnings } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { instrumentPools, metricNames, type InstrumentPoolsOptions } from '../src/index.js'
import { MemoryPool } from './_helpers/memory-pool.js'
import { createMetricsHarness } from './_helpers/metrics.js'

const options = suite('instrumentPools options')

function invalid(fn: () => unknown, option: string, words: RegExp): void {
  try {
    fn()
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION')
    assert.is((error as InvalidOptionError).option, option)
    assert.match((error as Error).message, words)
    return
  }
  assert.unreachable(`Expected InvalidOptionError for \`${option}\``)
}

options('rejects a missing registry, naming it', () => {
  invalid(() => instrumentPools(undefined as unknown as PoolRegistry), 'registry', /instrumentPools.*`registry`.*a PoolRegistry/)
  invalid(() => instrumentPools({} as PoolRegistry), 'registry', /a PoolRegistry/)
})

options('refuses a frozen or sealed registry before it attaches anything (the mark it keeps on the registry would fail only after)', async () => {
  const harness = createMetricsHarness()
  for (const seal of [Object.freeze, Object.seal, Object.preventExtensions]) {
    const registry = seal(createPoolRegistry())
    const pool = new MemoryPool('orders')
    registry.register(pool)
    invalid(() => instrumentPools(registry, { meterProvider: harness.meterProvider }), 'registry', /a PoolRegistry that is not frozen or sealed/)
    // Nothing reports it: no callback reads the pool, and no listener was left on the registry.
    await harness.collect()
    assert.is(pool.metricsCalls, 0)
    registry.register(new MemoryPool('billing'))
    await harness.collect()
  }
  const free = createPoolRegistry()
  free.register(new MemoryPool('orders'))
  instrumentPools(free, { meterProvider: harness.meterProvider }).stop()
  await harness.shutdown()
})

options("the default onError keeps a password out of its warning (a pool of another library whose metrics throw, quoting its connection string)", async () => {
  const harness = createMetricsHarness()
  const registry = createPoolRegistry()
  const pool = new MemoryPool('orders')
  const fail = (): never => {
    throw new Error('could not read the pool at postgres://app:hunter2@db.internal/orders')
  }
  pool.getPoolCounters = fail
  pool.getPoolMetrics = fail
  registry.register(pool)
  const warnings = await captureWarnings(async () => {
    const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
    await harness.collect()
    instrumentation.stop()
  })
  const notReported = warnings.filter((warning) => warning.code === 'LIFEGUARD_OTEL_POOL_NOT_REPORTED')
  assert.ok(notReported.length > 0, 'the failure was reported')
  for (const warning of notReported) {
    assert.not.match(warning.message, 'hunter2')
    assert.match(warning.message, 'app:***@db.internal')
  }
  await harness.shutdown()
})

options('rejects unknown options and bad values, naming option and value', () => {
  const registry = createPoolRegistry()
  invalid(() => instrumentPools(registry, { prefix: 'x' } as InstrumentPoolsOptions), 'prefix', /unknown option `prefix`.*`meterProvider`, `operationDuration`/)
  invalid(() => instrumentPools(registry, { operationDuration: 'yes' } as unknown as InstrumentPoolsOptions), 'operationDuration', /a boolean.*yes/)
  invalid(() => instrumentPools(registry, { meterProvider: {} } as unknown as InstrumentPoolsOptions), 'meterProvider', /a MeterProvider/)
})

options('refuses a connection string or credentials as poolNamePrefix, and keeps the password out of the message', () => {
  const registry = createPoolRegistry()
  for (const prefix of ['postgres://app:hunter2@db/orders#', 'svc:hunter2@', 'password=hunter2 ', `postgres://app:hunter2@db.internal.example.com:5432/orders?sslmode=require&x=${'y'.repeat(40)}`]) {
    let message = ''
    invalid(() => {
      try {
        instrumentPools(registry, { poolNamePrefix: prefix })
      } catch (error) {
        message = (error as Error).message
        throw error
      }
    }, 'poolNamePrefix', /a label, never a connection string/)
    assert.not.match(message, 'hunter2')
  }
})

options('with no SDK registered, the global no-op meter makes it subscribe to nothing', async () => {
  assert.is(metrics.getMeterProvider().getMeter('probe').createCounter('probe').constructor.name, 'NoopCounterMetric', 'no global SDK in this process')
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry)
  assert.is(instrumentation.active, false)
  assert.equal(instrumentation.pools, [])
  assert.is(pool.listenerCount, 0, 'no event listener on the pool')
  const release = await pool.acquire()
  release()
  assert.is(pool.metricsCalls, 0)
  instrumentation.stop()
  await registry.close()
})

options('operationDuration: false leaves db.client.operation.duration out', async () => {
  const harness = createMetricsHarness()
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider, operationDuration: false })
  const release = await pool.acquire()
  release()
  const names = (await harness.collect()).map((m) => m.descriptor.name)
  assert.ok(names.includes(metricNames.useTime))
  assert.not.ok(names.includes(metricNames.operationDuration))
  instrumentation.stop()
  await registry.close()
  await harness.shutdown()
})

options('one instrumentation per registry at a time: a second is refused until the first stops', async () => {
  const harness = createMetricsHarness()
  const registry = createPoolRegistry()
  const first = instrumentPools(registry, { meterProvider: harness.meterProvider })
  try {
    instrumentPools(registry, { meterProvider: harness.meterProvider })
    assert.unreachable('a second instrumentation counted every event twice')
  } catch (error) {
    assert.instance(error, RegistrationError)
    assert.match((error as Error).message, 'The registry is instrumented already: stop() the instrumentation first.')
  }
  first.stop()
  instrumentPools(registry, { meterProvider: harness.meterProvider }).stop()
  await harness.shutdown()
})

options('refuses a clock without clearTimeout, which stop() calls', () => {
  invalid(() => instrumentPools(createPoolRegistry(), { clock: { now: () => 0, setTimeout: () => 1 } } as unknown as InstrumentPoolsOptions), 'clock', /a Clock/)
})

options.run()
