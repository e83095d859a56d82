import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { performance } from 'node:perf_hooks'
import {
  InvalidOptionError,
  OperationContext,
  createServiceContainer,
  type AcquireEvent,
  type ConnectEvent,
  type DisconnectEvent,
  type PoolCreatedEvent,
  type PoolErrorEvent,
  type QueryEvent,
  type ReleaseEvent,
  type ResizeEvent,
  type TimeoutEvent,
} from '../src/index.js'
import {
  PoolMonitor,
  ownerOf,
} from '../src/adapter.js'
import { sleep } from './_helpers/async.js'
import { throwsError } from '@lifeguard/test-kit'

const password = 'Tr0ub4dor-and-3'

function createMonitor(extra: Partial<ConstructorParameters<typeof PoolMonitor>[0]> = {}): PoolMonitor {
  return new PoolMonitor({ name: 'orders', kind: 'postgres', target: 'postgres://app@db:5432/orders', ...extra })
}

const monitor = suite('PoolMonitor')

monitor('times a checkout from acquire to release and feeds wait and use summaries', async () => {
  const pool = createMonitor()
  const started = performance.now()
  const checkout = pool.acquired(4)
  await sleep(25)
  const useMillis = pool.released(checkout)
  const elapsed = performance.now() - started
  // Timers may fire a little early; the measured time must sit between that and the wall time.
  assert.ok(useMillis >= 20 && useMillis <= elapsed, `useMillis ${useMillis}, elapsed ${elapsed}`)
  const metrics = pool.snapshot({ totalConnections: 1, activeConnections: 0, idleConnections: 1, waitingRequests: 0, minSize: 0, maxSize: 5 })
  assert.is(metrics.waitTime.count, 1)
  assert.is(metrics.waitTime.max, 4)
  assert.is(metrics.useTime.count, 1)
  assert.is(metrics.avgResponseTime, useMillis)
  assert.instance(metrics.lastUsed, Date)
})

monitor('emits acquire and release with the owner from the current operation context', async () => {
  const acquires: AcquireEvent[] = []
  const releases: ReleaseEvent[] = []
  const pool = createMonitor({ events: { onAcquire: (e) => void acquires.push(e), onRelease: (e) => void releases.push(e) } })
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container: createServiceContainer(), requestId: 'req-42' })
  const checkout = context.run(() => pool.acquired(3))
  assert.is(checkout.context, context)
  // Released outside the context: the owner is still the operation that took the connection.
  pool.released(checkout)
  await context.dispose()
  assert.equal(acquires, [{ pool: 'orders', kind: 'postgres', waitMillis: 3, owner: { handler: 'orders-api', operation: 'GET /orders/:id', requestId: 'req-42' } }])
  assert.is(releases.length, 1)
  assert.equal(releases[0]?.owner, { handler: 'orders-api', operation: 'GET /orders/:id', requestId: 'req-42' })
  assert.ok((releases[0]?.useMillis ?? -1) >= 0)
})

monitor('outside any operation the events carry no owner', () => {
  const acquires: AcquireEvent[] = []
  const pool = createMonitor({ events: { onAcquire: (e) => void acquires.push(e) } })
  pool.released(pool.acquired(0))
  assert.not.ok('owner' in (acquires[0] as object))
})

monitor('counts timeouts and reports them with the redacted cause', () => {
  const timeouts: TimeoutEvent[] = []
  const pool = createMonitor({ secrets: [password], events: { onTimeout: (e) => void timeouts.push(e) } })
  pool.timedOut(100, 3, new Error(`connect to postgres://app:${password}@db/orders refused`))
  pool.timedOut(100, 0)
  assert.is(pool.stats.timeouts, 2)
  assert.is(timeouts[0]?.waitMillis, 100)
  assert.is(timeouts[0]?.waitingRequests, 3)
  assert.is(timeouts[0]?.cause?.message, 'connect to postgres://app:***@db/orders refused')
  assert.not.ok('cause' in (timeouts[1] as object))
  // Without listeners the count still moves.
  const quiet = createMonitor()
  quiet.timedOut(5, 0)
  assert.is(quiet.stats.timeouts, 1)
})

monitor('counts errors and emits them redacted with their source', () => {
  const errors: PoolErrorEvent[] = []
  const pool = createMonitor({ secrets: [password], events: { onError: (e) => void errors.push(e) } })
  const safe = pool.error(new Error(`password authentication failed (${password})`), 'idle-connection')
  assert.is(safe.message, 'password authentication failed (***)')
  assert.is(errors[0]?.source, 'idle-connection')
  assert.is(errors[0]?.error, safe)
  const metrics = pool.snapshot({ totalConnections: 0, activeConnections: 0, idleConnections: 0, waitingRequests: 0, minSize: 0, maxSize: 1 })
  assert.is(metrics.errors, 1)
  assert.is(metrics.lastError, 'password authentication failed (***)')
})

monitor('reports pool creation, connections, disconnections and resizes', () => {
  const created: PoolCreatedEvent[] = []
  const connects: ConnectEvent[] = []
  const disconnects: DisconnectEvent[] = []
  const resizes: ResizeEvent[] = []
  const pool = createMonitor({
    events: {
      onPoolCreated: (e) => void created.push(e),
      onConnect: (e) => void connects.push(e),
      onDisconnect: (e) => void disconnects.push(e),
      onResize: (e) => void resizes.push(e),
    },
  })
  pool.poolCreated(2, 10)
  pool.connected('c1', 7)
  pool.disconnected('c1', 'idle')
  pool.disconnected(undefined, 'closed')
  pool.resized({ minSize: 2, maxSize: 10 }, { minSize: 2, maxSize: 20 }, 'autoscale', { utilization: 95 })
  pool.resized({ minSize: 2, maxSize: 20 }, { minSize: 2, maxSize: 10 }, 'manual')
  assert.equal(created, [{ pool: 'orders', kind: 'postgres', target: 'postgres://app@db:5432/orders', minSize: 2, maxSize: 10 }])
  assert.equal(connects, [{ pool: 'orders', kind: 'postgres', connectionId: 'c1', createMillis: 7 }])
  assert.equal(disconnects, [
    { pool: 'orders', kind: 'postgres', connectionId: 'c1', reason: 'idle' },
    { pool: 'orders', kind: 'postgres', reason: 'closed' },
  ])
  assert.equal(resizes[0]?.details, { utilization: 95 })
  assert.is(resizes[0]?.reason, 'autoscale')
  assert.not.ok('details' in (resizes[1] as object))
  assert.is(pool.stats.createTime.count, 1)
})

monitor('leak detection is off unless leakDetectionMillis is set', () => {
  const pool = createMonitor()
  assert.is(pool.leakDetectionMillis, 0)
  const checkout = pool.acquired(0)
  assert.is(checkout.leakTimer, undefined)
  assert.is(checkout.origin, undefined)
  pool.released(checkout)
})

monitor('query events carry duration, kind and redacted error, and run inside the operation that ran the statement', async () => {
  const seen: { event: QueryEvent; handler: string | undefined }[] = []
  const pool = createMonitor({ secrets: [password], events: { onQuery: (event) => void seen.push({ event, handler: OperationContext.tryCurrent()?.operation }) } })
  const container = createServiceContainer()
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container })
  // Reported from outside the operation (a socket callback): the listener still runs inside it.
  pool.queried(1.5, 'SELECT', undefined, context)
  pool.queried(2, undefined, new Error(`password authentication failed: ${password}`), undefined)
  context.run(() => pool.queried(0.5, 'COMMIT', undefined, undefined))
  pool.queried(3, 'SELECT', undefined, undefined, 'shop')
  assert.equal(seen[0], { event: { pool: 'orders', kind: 'postgres', durationMillis: 1.5, operation: 'SELECT' }, handler: 'GET /orders/:id' })
  assert.equal(seen[3]?.event, { pool: 'orders', kind: 'postgres', durationMillis: 3, operation: 'SELECT', namespace: 'shop' }, 'the database, when the adapter knows it')
  assert.is(seen[1]?.event.error?.message, 'password authentication failed: ***')
  assert.not.ok('operation' in (seen[1]?.event as object), 'no operation when the adapter does not know it')
  assert.is(seen[1]?.handler, undefined)
  assert.is(seen[2]?.handler, undefined, 'an undefined owner means none, not the bystander that reported it')
  assert.is(pool.stats.errors, 0, 'a failed statement is the application\'s error, not the pool\'s')
  await container.dispose()
})

monitor('query events cost one check when nobody listens', () => {
  const pool = createMonitor()
  let redactions = 0
  const redact = pool.stats.redact.bind(pool.stats)
  pool.stats.redact = (error: unknown) => {
    redactions++
    return redact(error)
  }
  pool.queried(1, 'SELECT', new Error('boom'), undefined)
  assert.is(redactions, 0, 'nothing built for nobody')
  const off = pool.events.on('query', () => undefined)
  pool.queried(1, 'SELECT', new Error('boom'), undefined)
  assert.is(redactions, 1)
  off()
  assert.not.ok(pool.events.has('query'))
})

monitor('counters() holds the live numbers and lifetime totals, without sorting the windows', () => {
  const pool = createMonitor()
  pool.released(pool.acquired(4))
  pool.acquired(6)
  pool.timedOut(10, 1)
  pool.error(new Error('refused'), 'connection')
  pool.connected(1, 12)
  const live = { totalConnections: 2, activeConnections: 1, idleConnections: 1, waitingRequests: 0, minSize: 1, maxSize: 5 }
  const counters = pool.counters(live)
  assert.equal(counters, {
    ...live,
    errors: 1,
    timeouts: 1,
    rejectedRequests: 0,
    abandonedWaits: 0,
    leaks: 0,
    waitTime: { count: 2, sum: 10 },
    useTime: { count: 1, sum: counters.useTime.sum },
    createTime: { count: 1, sum: 12 },
  })
  const metrics = pool.snapshot(live)
  for (const key of Object.keys(counters) as (keyof typeof counters)[]) {
    const value = counters[key]
    if (typeof value === 'number') assert.is(metrics[key], value, key)
    else if (value !== undefined) assert.equal({ count: (metrics[key] as typeof value).count, sum: (metrics[key] as typeof value).sum }, value, key)
  }
})

const owner = suite('ownerOf')

owner('is undefined outside any operation', () => {
  assert.is(ownerOf(), undefined)
})

owner('names handler, operation and request id of the current operation', async () => {
  const container = createServiceContainer()
  const withId = OperationContext.create('orders-api', 'POST /orders', { container, requestId: 'r-1' })
  const withoutId = OperationContext.create('billing-worker', 'charge', { container })
  assert.equal(withId.run(() => ownerOf()), { handler: 'orders-api', operation: 'POST /orders', requestId: 'r-1' })
  assert.equal(ownerOf(withoutId), { handler: 'billing-worker', operation: 'charge' })
  await container.dispose()
})

monitor("a target that carries a password is told without it in poolCreated; a window size past a million samples is refused", () => {
  const created: PoolCreatedEvent[] = []
  const pool = createMonitor({ target: 'postgres://app:s3cret-pw@db:5432/orders', events: { onPoolCreated: (e) => void created.push(e) } })
  pool.poolCreated(1, 2)
  // Before: told as the adapter gave it.
  assert.is(created[0]?.target, 'postgres://app:***@db:5432/orders')
  // Three windows of this many doubles: 1e8 took 2.4 GB without a word.
  const huge = throwsError(() => createMonitor({ windowSize: 1e8 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(huge.option, 'windowSize')
  assert.match(huge.message, '1000000')
})

monitor('refuses a leak timer a Node.js timer cannot honour, and a bad listener map, when it is built', () => {
  // A timer above 2^31-1 ms fires after ~1 ms: every checkout would be reported as a leak.
  const tooLong = throwsError(() => createMonitor({ leakDetectionMillis: 2 ** 32 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(tooLong.option, 'leakDetectionMillis')
  assert.match(tooLong.message, "Invalid options for the monitor of pool 'orders': expected `leakDetectionMillis` to be an integer number of milliseconds between 0 and 2147483647, got `4294967296` (number).")
  assert.is(throwsError(() => createMonitor({ leakDetectionMillis: 1.5 }), InvalidOptionError).option, 'leakDetectionMillis')
  const listener = throwsError(() => createMonitor({ events: { onLeak: 'log' } as never }), InvalidOptionError)
  assert.is(listener.option, 'events.onLeak')
  assert.is(throwsError(() => createMonitor({ windowSize: 0 }), InvalidOptionError).option, 'windowSize')
})

monitor.run()
owner.run()
