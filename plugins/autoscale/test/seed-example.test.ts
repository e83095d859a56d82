// The seed document's dynamic sizing example, run as written. Its one line of setup: `install()`.
import { InvalidOptionError } from '@lifeguard/core'
import { createMongoPool } from '@lifeguard/mongodb'
import { createPostgresPool } from '@lifeguard/postgres'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ThresholdPolicy, withDynamicSizing, type DynamicPoolConfig } from '../src/index.js'
import { install as installForMongo } from '../src/mongodb.js'
import { install } from '../src/postgres.js'
import { ConnectionObserver, pgConfig, uniqueAppName } from './_helpers/pg-server.js'
import { throwsError } from '@lifeguard/test-kit'

const observer = new ConnectionObserver()

const seed = suite('the seed`s client.setDynamicPoolConfig(config), with the plugin installed')

seed.after(async () => {
  await observer.end()
})

seed('runs on a PostgreSQL pool as the seed writes it, and sizes the pool; the server follows', async () => {
  install() // the one line of setup
  const appName = uniqueAppName('autoscale-seed')
  const client = createPostgresPool({ ...pgConfig(), name: 'orders', applicationName: appName, maxSize: 10 })
  try {
    // ---- the seed's example, as written ----
    const dynamicConfig: DynamicPoolConfig = {
      enabled: true,
      minSize: 5,
      maxSize: 100,
      scaleUpThreshold: 70,
      scaleDownThreshold: 30,
      scaleUpIncrement: 10,
      scaleDownIncrement: 5,
      evaluationInterval: 10000
    };

    client.setDynamicPoolConfig(dynamicConfig);
    // ----------------------------------------
    assert.equal(client.getDynamicPoolConfig(), dynamicConfig)
    const sizing = client.dynamicSizing
    assert.instance(sizing?.policy, ThresholdPolicy)
    assert.is(sizing?.policy.evaluationIntervalMillis, 10_000)
    // Ten minutes of load is not a test: take the interval's samples by hand during a burst, then evaluate.
    const burst = Promise.all(Array.from({ length: 20 }, () => client.query('SELECT pg_sleep(0.1)')))
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      sizing?.sample()
    }
    assert.equal(sizing?.evaluate()?.reason, 'autoscale:threshold-up')
    assert.is(client.getPoolMetrics().maxSize, 20, 'grew by scaleUpIncrement')
    await burst
    assert.ok((await observer.count(appName)) > 10, 'the server holds the new connections')
    client.setDynamicPoolConfig({ ...dynamicConfig, enabled: false })
    assert.is(client.dynamicSizing, undefined)
  } finally {
    await client.close()
  }
  await observer.waitFor(appName, (count) => count === 0, '0')
})

seed('runs on a MongoDB pool the same way, and refuses a maxSize past its maxSizeLimit', async () => {
  installForMongo()
  const client = createMongoPool({ name: 'events', uri: 'mongodb://127.0.0.1:27017/events', maxSize: 10, maxSizeLimit: 100 })
  try {
    const dynamicConfig: DynamicPoolConfig = { enabled: true, minSize: 5, maxSize: 100, scaleUpThreshold: 70, scaleDownThreshold: 30, scaleUpIncrement: 10, scaleDownIncrement: 5, evaluationInterval: 10000 }
    client.setDynamicPoolConfig(dynamicConfig)
    assert.ok(client.dynamicSizing?.running)
    const refused = throwsError(() => client.setDynamicPoolConfig({ ...dynamicConfig, maxSize: 101 }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.match(refused.message, "an integer <= the pool's `maxSizeLimit` (100), got `101`")
    assert.is(client.getDynamicPoolConfig()?.maxSize, 100, 'the running config stays')
    client.setDynamicPoolConfig({ ...dynamicConfig, enabled: false })
  } finally {
    await client.close()
  }
})

seed('install() is idempotent and every pool keeps its own config; withDynamicSizing still works beside it', async () => {
  install()
  install()
  const a = createPostgresPool({ ...pgConfig(), name: 'a', maxSize: 10 })
  const b = withDynamicSizing(createPostgresPool({ ...pgConfig(), name: 'b', maxSize: 10 }), { timers: false })
  try {
    const config: DynamicPoolConfig = { enabled: true, minSize: 2, maxSize: 20, scaleUpThreshold: 80, scaleDownThreshold: 30, scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000 }
    a.setDynamicPoolConfig(config)
    assert.is(b.getDynamicPoolConfig(), undefined)
    b.setDynamicPoolConfig({ ...config, maxSize: 30 })
    assert.is(a.getDynamicPoolConfig()?.maxSize, 20)
    assert.is(b.getDynamicPoolConfig()?.maxSize, 30)
    assert.not.ok(Object.keys(a).includes('setDynamicPoolConfig'), 'not enumerable')
    a.setDynamicPoolConfig({ ...config, enabled: false })
    b.setDynamicPoolConfig({ ...config, enabled: false })
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})

seed.run()
