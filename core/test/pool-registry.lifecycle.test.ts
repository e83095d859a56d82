import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, PoolCloseTimeoutError, RegistrationError, createPoolRegistry, type ManagedPool, type PoolState, RegistryCloseError } from '../src/index.js'
import { deferred, isPending, turn } from './_helpers/async.js'
import { FakePool } from './_helpers/fake-pool.js'
import { ManualClock, rejects, captureWarnings, throwsError } from '@lifeguard/test-kit'

const lifecycle = suite('PoolRegistry metrics, close and subscribe')

lifecycle('getPoolMetrics returns every pool by name', async () => {
  const registry = createPoolRegistry()
  const orders = registry.register(new FakePool('orders', { minSize: 2, maxSize: 8 }))
  registry.register(new FakePool('users', { maxSize: 4 }))
  await registry.warmup()
  orders.monitor.released(orders.monitor.acquired(5))
  const metrics = registry.getPoolMetrics()
  assert.equal(Object.keys(metrics), ['orders', 'users'])
  assert.is(metrics['orders']?.totalConnections, 2)
  assert.is(metrics['orders']?.maxSize, 8)
  assert.is(metrics['orders']?.waitTime.count, 1)
  assert.is(metrics['users']?.maxSize, 4)
  assert.equal(createPoolRegistry().getPoolMetrics(), {})
  await registry.close()
})

lifecycle('getPoolMetrics keeps a pool named __proto__ as an entry of its own', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('__proto__', { maxSize: 3 }))
  registry.register(new FakePool('orders'))
  const metrics = registry.getPoolMetrics()
  assert.equal(Object.keys(metrics), ['__proto__', 'orders'])
  assert.is(Object.getPrototypeOf(metrics), Object.prototype)
  assert.is(metrics['__proto__']?.maxSize, 3)
  assert.equal(Object.keys(JSON.parse(JSON.stringify(metrics)) as object), ['__proto__', 'orders'])
  await registry.close()
})

lifecycle('close closes every pool in parallel, passes the options and empties the registry', async () => {
  const registry = createPoolRegistry()
  const gateA = deferred()
  const gateB = deferred()
  const orders = registry.register(new FakePool('orders', { closeGate: gateA.promise }))
  const users = registry.register(new FakePool('users', { closeGate: gateB.promise }))
  const closing = registry.close({ timeoutMillis: 500 })
  assert.equal(orders.calls.close, [{ timeoutMillis: 500 }])
  assert.equal(users.calls.close, [{ timeoutMillis: 500 }])
  assert.ok(await isPending(closing))
  gateB.resolve()
  gateA.resolve()
  await closing
  assert.is(orders.state, 'closed')
  assert.is(users.state, 'closed')
  assert.equal(registry.names(), [])
})

lifecycle('close reports every failing pool in one RegistryCloseError (an AggregateError with a code) and still closes the others', async () => {
  const registry = createPoolRegistry()
  const stuck = new Error('checked-out work did not finish')
  registry.register(new FakePool('orders', { closeError: stuck }))
  const users = registry.register(new FakePool('users'))
  const error = await rejects(registry.close(), RegistryCloseError, 'ERR_REGISTRY_CLOSE')
  assert.instance(error, AggregateError)
  assert.is(error.name, 'RegistryCloseError')
  assert.is(error.message, 'Could not close 1 of 2 pool(s).')
  assert.equal(error.errors, [stuck])
  assert.is(users.state, 'closed')
  assert.equal(registry.names(), [])
})

lifecycle('a pool whose close failed and that is not closed stays registered: a retry closes it, and its name is not free meanwhile', async () => {
  const registry = createPoolRegistry()
  const removed: string[] = []
  registry.subscribe({ removed: (pool) => void removed.push(pool.name) })
  // A pool of the application's own, whose driver refused the first close.
  class StubbornPool extends FakePool {
    failed = false
    override get state(): PoolState {
      return this.failed ? 'ready' : super.state
    }
    override async close(options?: { timeoutMillis?: number }): Promise<void> {
      if (this.calls.close.length === 0) {
        this.calls.close.push(options)
        this.failed = true
        throw new Error('the driver refused to close')
      }
      this.failed = false
      return super.close(options)
    }
  }
  const orders = registry.register(new StubbornPool('orders'))
  registry.register(new FakePool('users'))
  await rejects(registry.close(), RegistryCloseError, 'ERR_REGISTRY_CLOSE')
  // Before the fix it was removed all the same, and its name taken by a new pool while it still ran.
  assert.equal(registry.names(), ['orders'])
  assert.equal(removed, ['users'])
  throwsError(() => registry.register(new FakePool('orders')), RegistrationError, 'ERR_REGISTRATION')
  await registry.close()
  assert.is(orders.state, 'closed')
  assert.equal(registry.names(), [])
  assert.equal(removed, ['users', 'orders'])
})

lifecycle('a pool that does not close within its timeout plus 5 s fails with PoolCloseTimeoutError and stays registered until its close ends', async () => {
  const clock = new ManualClock()
  const registry = createPoolRegistry({ clock })
  const gate = deferred()
  // A pool of the application's own whose close ignores the timeout it was given.
  const stuck = registry.register(new FakePool('reports', { closeGate: gate.promise }))
  registry.register(new FakePool('users'))
  const removed: string[] = []
  registry.subscribe({ removed: (pool) => void removed.push(pool.name) })
  const closing = registry.close({ timeoutMillis: 1_000 })
  let outcome: unknown
  closing.then(undefined, (error: unknown) => void (outcome = error))
  await clock.advance(6_000 - 1)
  assert.is(outcome, undefined, 'still within its bound')
  assert.equal(removed, ['users'])
  await clock.advance(1)
  // Before: close() waited for good.
  assert.instance(outcome, RegistryCloseError)
  const [failure] = (outcome as RegistryCloseError).errors as PoolCloseTimeoutError[]
  assert.instance(failure, PoolCloseTimeoutError)
  assert.is(failure!.code, 'ERR_POOL_CLOSE_TIMEOUT')
  assert.is(failure!.pool, 'reports')
  assert.is(failure!.waitedMillis, 6_000)
  assert.is(failure!.message, "Could not close pool 'reports'. It had not closed 6000ms after it was asked to; it stays registered.")
  assert.is(registry.get('reports'), stuck, 'it may still hold connections')
  assert.is(clock.pendingTimers, 0)
  gate.resolve()
  await turn()
  assert.equal(removed, ['users', 'reports'], 'removed once its close has ended')
})

lifecycle('each pool is given the timeout the bound assumes (10 s by default: a close under way with a longer one is shortened to it), and a huge one is capped at what a timer can wait', async () => {
  const clock = new ManualClock()
  const registry = createPoolRegistry({ clock })
  const orders = registry.register(new FakePool('orders'))
  await registry.close()
  assert.equal(orders.calls.close, [{ timeoutMillis: 10_000 }])
  assert.is(clock.pendingTimers, 0, 'no timer left once every pool has closed')
  const gate = deferred()
  registry.register(new FakePool('late', { closeGate: gate.promise }))
  const closing = registry.close({ timeoutMillis: 2_147_483_647 })
  let outcome: unknown
  closing.then(undefined, (error: unknown) => void (outcome = error))
  await clock.advance(2_147_483_647 - 1)
  assert.is(outcome, undefined)
  await clock.advance(1)
  // Not 2_147_488_647: Node fires a longer timer at once.
  assert.is(((outcome as RegistryCloseError).errors[0] as PoolCloseTimeoutError).waitedMillis, 2_147_483_647)
  gate.resolve()
})

lifecycle('a pool of one\'s own whose close() returns no promise counts as closed', async () => {
  const registry = createPoolRegistry()
  const pool = registry.register(new FakePool('plain'))
  pool.close = (() => undefined) as never
  await registry.close()
  assert.throws(() => registry.get('plain'), /plain/)
})

lifecycle('createPoolRegistry refuses options it does not know, naming them', () => {
  assert.match(throwsError(() => createPoolRegistry({ clock: {} as never }), InvalidOptionError, 'ERR_INVALID_OPTION').message, 'expected `clock` to be a Clock')
  assert.match(throwsError(() => createPoolRegistry({ timeout: 1 } as never), InvalidOptionError).message, '`timeout`')
  assert.match(throwsError(() => createPoolRegistry(7 as never), InvalidOptionError).message, 'Invalid options for createPoolRegistry: expected an object')
})

lifecycle('close rejects bad options with InvalidOptionError naming the option', async () => {
  const registry = createPoolRegistry()
  const orders = registry.register(new FakePool('orders'))
  for (const [options, option] of [
    [{ timeoutMillis: -1 }, 'timeoutMillis'],
    [{ timeoutMillis: 1.5 }, 'timeoutMillis'],
    [{ timeoutMillis: '100' }, 'timeoutMillis'],
    [{ timeoutMilis: 100 }, 'timeoutMilis'],
    [5000, 'options'],
  ] as const) {
    const error = await rejects(registry.close(options as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
  }
  const range = await rejects(registry.close({ timeoutMillis: -1 }), InvalidOptionError)
  assert.is(range.message, 'Invalid options for registry.close: expected `timeoutMillis` to be an integer number of milliseconds between 0 and 2147483647, got `-1` (number).')
  // Nothing was closed by the rejected calls.
  assert.is(orders.calls.close.length, 0)
  assert.ok(registry.has('orders'))
  await registry.close()
})

/** A registry of `orders` (whose close waits for `gate`) and `users`, and the names of the pools removed from it, in order. */
function slowToCloseRegistry() {
  const registry = createPoolRegistry()
  const gate = deferred()
  registry.register(new FakePool('orders', { closeGate: gate.promise }))
  registry.register(new FakePool('users'))
  const removed: string[] = []
  registry.subscribe({ removed: (pool: ManagedPool) => void removed.push(pool.name) })
  return { registry, gate, removed }
}

lifecycle('two overlapping close() calls report each pool removed once', async () => {
  const { registry, gate, removed } = slowToCloseRegistry()
  const first = registry.close()
  const second = registry.close()
  gate.resolve()
  await Promise.all([first, second])
  assert.equal(removed, ['users', 'orders'], 'each as it closed')
  assert.equal(registry.names(), [])
})

lifecycle('close removes each pool as soon as it has closed, not when the slowest one has', async () => {
  const { registry, gate, removed } = slowToCloseRegistry()
  const closing = registry.close()
  await turn()
  assert.equal(removed, ['users'])
  assert.equal(registry.names(), ['orders'], 'the one still closing stays')
  gate.resolve()
  await closing
  assert.equal(removed, ['users', 'orders'])
})

lifecycle('a pool closed directly stays registered until a pool registered under its name replaces it', async () => {
  const registry = createPoolRegistry()
  const old = registry.register(new FakePool('orders'))
  await registry.warmup()
  const events: string[] = []
  registry.subscribe({ added: (pool: ManagedPool) => void events.push(`added ${pool === old ? 'old' : 'new'}`), removed: (pool: ManagedPool) => void events.push(`removed ${pool === old ? 'old' : 'new'}`) })
  await old.close()
  assert.ok(registry.has('orders'))
  assert.is(registry.isReady, false, 'a closed pool cannot serve')
  const replacement = registry.register(new FakePool('orders'))
  assert.is(registry.get('orders'), replacement)
  assert.equal(events, ['added old', 'removed old', 'added new'])
  // A pool that is not closed keeps its name, and a pool cannot take its own place.
  const taken = throwsError(() => registry.register(new FakePool('orders')), RegistrationError)
  assert.match(taken.message, "Could not register pool 'orders'. A pool with that name is already registered.")
  await registry.warmup()
  assert.is(registry.isReady, true)
  await registry.close()
})

lifecycle('after close(), ready starts over: a new pool is not ready until the next warmup() settles it', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders'))
  await registry.warmup()
  await registry.ready
  await registry.close()
  registry.register(new FakePool('orders'))
  assert.ok(await isPending(registry.ready), 'no warmup of the new pool yet')
  const waiting = registry.ready
  await registry.warmup()
  await waiting
  assert.is(registry.isReady, true)
  await registry.close()
})

lifecycle('subscribe reports pools already there, pools added later and pools removed on close', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders'))
  const seen: string[] = []
  const unsubscribe = registry.subscribe({
    added: (pool: ManagedPool) => void seen.push(`added ${pool.name}`),
    removed: (pool: ManagedPool) => void seen.push(`removed ${pool.name} (${pool.state})`),
  })
  registry.register(new FakePool('users'))
  await registry.close()
  assert.equal(seen, ['added orders', 'added users', 'removed orders (closed)', 'removed users (closed)'])
  unsubscribe()
  registry.register(new FakePool('billing'))
  assert.is(seen.length, 4)
  await registry.close()
})

lifecycle('a pool a listener registers while subscribe() replays the others is told to it once', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders'))
  const seen: string[] = []
  // A plugin that, on seeing 'orders', registers a companion pool.
  registry.subscribe({
    added: (pool) => {
      seen.push(pool.name)
      if (pool.name === 'orders') registry.register(new FakePool('orders-replica'))
    },
  })
  assert.equal(seen, ['orders', 'orders-replica'])
  await registry.close()
})

lifecycle('a listener subscribed from another listener is told of the pool being added once', async () => {
  const registry = createPoolRegistry()
  const late: string[] = []
  const first = registry.subscribe({
    added: () => {
      first()
      registry.subscribe({ added: (pool) => void late.push(pool.name) })
    },
  })
  registry.register(new FakePool('orders'))
  assert.equal(late, ['orders'])
  registry.register(new FakePool('users'))
  assert.equal(late, ['orders', 'users'])
  await registry.close()
})

lifecycle('a listener unsubscribed by an earlier one is told nothing more', async () => {
  const registry = createPoolRegistry()
  const seen: string[] = []
  let second = (): void => {}
  registry.subscribe({ added: () => second() })
  second = registry.subscribe({ added: (pool) => void seen.push(pool.name) })
  registry.register(new FakePool('orders'))
  assert.equal(seen, [])
  await registry.close()
})

lifecycle('a listener may follow only additions', () => {
  const registry = createPoolRegistry()
  const added: string[] = []
  registry.subscribe({ added: (pool) => void added.push(pool.name) })
  registry.register(new FakePool('orders'))
  assert.equal(added, ['orders'])
})

lifecycle('subscribe refuses a listener that is not an object of functions, naming it', () => {
  const registry = createPoolRegistry()
  for (const listener of [null, 5, [], { added: 'yes' }, { removed: 1 }]) {
    try {
      registry.subscribe(listener as never)
      assert.unreachable('subscribed')
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      assert.is((error as InvalidOptionError).option, 'listener')
      assert.match((error as Error).message, 'Invalid options for registry.subscribe: expected `listener` to be an object whose `added` and `removed`, where present, are functions')
    }
  }
  // Listeners on a class's prototype are read as `notify` reads them.
  class Follower {
    names: string[] = []
    added(pool: ManagedPool): void {
      this.names.push(pool.name)
    }
  }
  const follower = new Follower()
  registry.subscribe(follower)
  registry.register(new FakePool('orders'))
  assert.equal(follower.names, ['orders'])
})

lifecycle('subscribe refuses a misspelled listener, or one with neither `added` nor `removed`, naming the key', () => {
  const registry = createPoolRegistry()
  for (const key of ['onAdded', 'add', 'Removed']) {
    const error = throwsError(() => registry.subscribe({ [key]: () => {} } as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, `listener.${key}`)
    assert.match(error.message, `Invalid options for registry.subscribe: unknown listener \`listener.${key}\`. Known listeners: \`added\`, \`removed\`.`)
  }
  // Beside a known one too (the misspelled one would never be called), and refused before it is subscribed.
  const added: string[] = []
  assert.is(throwsError(() => registry.subscribe({ added: (pool: ManagedPool) => void added.push(pool.name), onRemoved: () => {} } as never), InvalidOptionError).option, 'listener.onRemoved')
  class Misnamed {
    onAdded(): void {}
  }
  for (const listener of [{}, Object.create(null), new Misnamed()]) {
    const error = throwsError(() => registry.subscribe(listener), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'listener')
    assert.match(error.message, 'Invalid options for registry.subscribe: expected `listener` to be an object with an `added` or a `removed` listener')
  }
  registry.register(new FakePool('orders'))
  assert.equal(added, [])
  // Own fields that are no functions are the listener's state, not misspellings.
  const counting = { count: 0, label: 'audit', added(this: { count: number }) { this.count++ } }
  registry.subscribe(counting)
  assert.is(counting.count, 1)
})

lifecycle('a failing listener becomes a process warning and never breaks registration', async () => {
  const registry = createPoolRegistry()
  const warnings = await captureWarnings(async () => {
    registry.subscribe({
      added: () => {
        throw new Error('plugin bug')
      },
    })
    registry.register(new FakePool('orders'))
    await turn()
  })
  assert.ok(registry.has('orders'))
  assert.is(warnings.length, 1)
  assert.is(warnings[0]?.code, 'LIFEGUARD_LISTENER_FAILED')
  assert.is(warnings[0]?.message, "A pool registry listener failed on 'added' for pool 'orders': plugin bug")
})

lifecycle('an async listener that rejects becomes a process warning too, with no password in it', async () => {
  const registry = createPoolRegistry()
  const warnings = await captureWarnings(async () => {
    registry.subscribe({
      added: async () => {
        await turn()
        throw new Error('could not reach postgres://app:hunter2@db.internal/orders')
      },
    })
    registry.register(new FakePool('orders'))
    await turn()
    await turn()
  })
  assert.ok(registry.has('orders'))
  assert.is(warnings.length, 1, 'reported, not left as an unhandled rejection')
  assert.is(warnings[0]?.code, 'LIFEGUARD_LISTENER_FAILED')
  assert.match(warnings[0]?.message ?? '', "A pool registry listener failed on 'added' for pool 'orders': could not reach postgres://")
  assert.not.match(warnings[0]?.message ?? '', 'hunter2')
})

lifecycle('close refuses a timeout a Node.js timer cannot honour, before any pool closes', async () => {
  const registry = createPoolRegistry()
  const orders = registry.register(new FakePool('orders'))
  for (const timeoutMillis of [2 ** 32, 2 ** 31, -1, 1.5]) {
    const error = await rejects(registry.close({ timeoutMillis }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'timeoutMillis')
    assert.is(error.expected, 'an integer number of milliseconds between 0 and 2147483647')
  }
  assert.equal(orders.calls.close, [])
  assert.ok(registry.has('orders'))
  await registry.close({ timeoutMillis: 2 ** 31 - 1 })
  assert.is(orders.state, 'closed')
})

lifecycle.run()
