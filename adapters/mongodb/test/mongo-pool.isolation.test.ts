import { createPoolRegistry } from '@lifeguard/core'
import { MongoNetworkError } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoPool } from '../src/index.js'
import { appNameOf, closeAll, faultTest, openPool, recordEvents } from './_helpers/pools.js'
import { rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_isolation'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Isolation = suite<Context>('two pools in one process', { target: undefined as never, pools: [] })

Isolation.before(async (context) => {
  context.target = await startTarget([DB])
})

Isolation.after.each(async (context) => {
  context.target.wire?.clearFaults()
  await closeAll(context.target, context.pools)
})

Isolation.after(async (context) => {
  await context.target.close()
})

Isolation('connections, operations and events of two pools on one server never mix', async (context) => {
  const { target } = context
  const a = recordEvents()
  const b = recordEvents()
  const registry = createPoolRegistry()
  const orders = registry.register(openPool(target, { dbName: DB, events: a.listeners }))
  const billing = registry.register(openPool(target, { dbName: DB, events: b.listeners }))
  context.pools.push(orders, billing)

  await orders.warmup({ connections: 3 })
  await billing.warmup({ connections: 1 })
  await target.waitForMonitor(appNameOf(orders))
  await target.waitForMonitor(appNameOf(billing))
  assert.is(await target.poolConnections(appNameOf(orders)), 3)
  assert.is(await target.poolConnections(appNameOf(billing)), 1)

  await orders.collection('orders').insertOne({ sku: 'a' })
  await orders.collection('orders').findOne({})
  const metrics = registry.getPoolMetrics()
  assert.equal([metrics[orders.name]?.totalConnections, metrics[orders.name]?.useTime.count], [3, 2])
  assert.equal([metrics[billing.name]?.totalConnections, metrics[billing.name]?.useTime.count], [1, 0])
  assert.ok(a.events.every((e) => e.payload.pool === orders.name))
  assert.ok(b.events.every((e) => e.payload.pool === billing.name))
  assert.equal([a.of('connect').length, b.of('connect').length], [3, 1])

  await orders.close()
  await target.waitForPoolConnections(appNameOf(orders), 0)
  assert.is(await target.poolConnections(appNameOf(billing)), 1)
  assert.is(await billing.collection('orders').countDocuments({}), 1)
  assert.equal(b.of('disconnect'), [])
})

faultTest(Isolation)('a pool clear in one pool leaves the other untouched', async (context) => {
  const { target } = context
  const a = recordEvents()
  const b = recordEvents()
  const first = openPool(target, { dbName: DB, faults: true, events: a.listeners })
  const second = openPool(target, { dbName: DB, faults: true, events: b.listeners })
  context.pools.push(first, second)
  await Promise.all([first.warmup(), second.warmup()])
  target.wire!.fault('find', { kind: 'closeSocket' })
  await rejects(first.collection('cleared').findOne({}), MongoNetworkError)
  assert.ok(a.of('error').some((e) => (e.error as { code?: string }).code === 'ERR_POOL_CLEARED'))
  assert.equal(b.of('error'), [])
  assert.is(second.getPoolMetrics().errors, 0)
  assert.is(await second.collection('cleared').findOne({}), null)
})

Isolation.run()
