// What the adapter reads of the driver's internals: the readers' fallbacks on shapes they do not know, and
// the pinned driver's shapes themselves (if an upgrade moves a field, these fail before the counts drift).
import { MongoClient } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { checkoutsInDriver, connectInFlight, topologyConnected } from '../src/internal/driver-internals.js'
import { faultTest } from './_helpers/pools.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

// A client whose `topology` is the given value.
const withTopology = (topology: unknown) => ({ topology }) as unknown as MongoClient

// A topology of servers, each with a pool of `waitQueue` and `pendingConnectionCount`.
const topologyOf = (...pools: Record<string, unknown>[]) => ({ s: { servers: new Map(pools.map((pool, n) => [`10.0.0.${n}:27017`, { pool }])) } })

const Readers = suite('driver internals: readers')

Readers('checkouts in the driver are the waiting members not cancelled plus the pending connections, over every server', () => {
  const client = withTopology(
    topologyOf({ waitQueue: [{ cancelled: false }, { cancelled: true }], pendingConnectionCount: 1 }, { waitQueue: [{ cancelled: false }], pendingConnectionCount: 0 }),
  )
  assert.is(checkoutsInDriver(client), 3)
})

Readers('no topology (not connected yet, or closed by client.close()) is no checkout', () => {
  assert.is(checkoutsInDriver(withTopology(undefined)), 0)
})

Readers('any field of another shape gives undefined, so the caller keeps its own count', () => {
  const shapes: unknown[] = [
    {},
    { s: { servers: [] } },
    topologyOf({ waitQueue: [], pendingConnectionCount: '1' }),
    topologyOf({ waitQueue: [], pendingConnectionCount: 1.5 }),
    topologyOf({ waitQueue: 3, pendingConnectionCount: 0 }),
    topologyOf({ waitQueue: [{ cancelled: 'no' }], pendingConnectionCount: 0 }),
    topologyOf({ waitQueue: [null], pendingConnectionCount: 0 }),
    { s: { servers: new Map([['a:1', {}]]) } },
    'a topology',
  ]
  for (const topology of shapes) assert.is(checkoutsInDriver(withTopology(topology)), undefined, JSON.stringify(topology))
})

Readers('topologyConnected is false without a topology or its isConnected()', () => {
  assert.is(topologyConnected(withTopology(undefined)), false)
  assert.is(topologyConnected(withTopology({})), false)
  assert.is(topologyConnected(withTopology({ isConnected: () => true })), true)
})

Readers.run()

interface Context {
  target: TestTarget
}

const Pinned = suite<Context>('driver internals: the pinned driver', { target: undefined as never })

Pinned.before(async (context) => {
  context.target = await startTarget([])
})

Pinned.after(async (context) => {
  await context.target.close()
})

const APP = 'lifeguard-driver-internals-test'

Pinned('the topology keeps its servers in a Map, each pool a waitQueue and a pendingConnectionCount', async (context) => {
  const client = new MongoClient(context.target.uri, { appName: APP, heartbeatFrequencyMS: 500, minPoolSize: 0 })
  try {
    assert.is(topologyConnected(client), false, 'not connected yet')
    assert.is(checkoutsInDriver(client), 0)
    await client.connect()
    assert.is(topologyConnected(client), true)
    const servers = (client as unknown as { topology: { s: { servers: unknown } } }).topology.s.servers
    assert.instance(servers, Map)
    const [server] = [...(servers as Map<string, { pool: { waitQueue: unknown; pendingConnectionCount: unknown } }>).values()]
    assert.ok(server !== undefined, 'one server')
    assert.type((server.pool.waitQueue as Iterable<unknown>)[Symbol.iterator], 'function')
    assert.type(server.pool.pendingConnectionCount, 'number')
    assert.is(checkoutsInDriver(client), 0, 'shapes read, nothing waiting')
  } finally {
    await client.close()
  }
  assert.is(topologyConnected(client), false, 'closed')
  assert.is(checkoutsInDriver(client), 0)
  await context.target.waitForNoConnections(APP)
})

faultTest(Pinned)('a checkout waiting for a busy connection is a waitQueue member with cancelled: false', async (context) => {
  const wire = context.target.wire!
  const client = new MongoClient(context.target.uri, { appName: APP, heartbeatFrequencyMS: 500, maxPoolSize: 1 })
  try {
    await client.connect()
    wire.fault('find', { kind: 'delay', delayMillis: 300 })
    const collection = client.db('lifeguard_internals').collection('items')
    const first = collection.findOne({})
    const second = collection.findOne({})
    await wire.waitFor(() => checkoutsInDriver(client) === 1, 2000, 'one checkout in the wait queue')
    const pool = [...(client as unknown as { topology: { s: { servers: Map<string, { pool: { waitQueue: Iterable<unknown> } }> } } }).topology.s.servers.values()][0]!.pool
    assert.equal([...pool.waitQueue].map((member) => typeof (member as { cancelled?: unknown }).cancelled), ['boolean'])
    await Promise.all([first, second])
    assert.is(checkoutsInDriver(client), 0)
  } finally {
    await client.close()
  }
  await context.target.waitForNoConnections(APP)
})

Pinned("the connect under way is the client's connectionLock, a Promise until it settles", async (context) => {
  const client = new MongoClient(context.target.uri, { appName: APP, heartbeatFrequencyMS: 500 })
  try {
    assert.is(connectInFlight(client), undefined)
    const connecting = client.connect()
    assert.instance(connectInFlight(client), Promise)
    await connecting
    assert.is(connectInFlight(client), undefined)
  } finally {
    await client.close()
  }
  await context.target.waitForNoConnections(APP)
})

Pinned.run()
