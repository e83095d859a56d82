import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, PoolWarmupError, createPoolRegistry, RegistryWarmupError } from '../src/index.js'
import { deferred, isPending, turn } from './_helpers/async.js'
import { FakePool } from './_helpers/fake-pool.js'
import { ManualClock, rejects } from '@lifeguard/test-kit'

const warmup = suite('PoolRegistry warmup')

warmup('warms every pool up in parallel and reports them together', async () => {
  const registry = createPoolRegistry()
  const gateA = deferred()
  const gateB = deferred()
  const orders = registry.register(new FakePool('orders', { minSize: 2, warmupGate: gateA.promise }))
  const users = registry.register(new FakePool('users', { minSize: 3, warmupGate: gateB.promise }))
  const report = registry.warmup()
  // Both started before either finished.
  assert.is(orders.calls.warmup.length, 1)
  assert.is(users.calls.warmup.length, 1)
  assert.ok(await isPending(report))
  gateB.resolve()
  assert.ok(await isPending(report))
  gateA.resolve()
  const { pools, durationMillis } = await report
  assert.equal(
    pools.map((p) => [p.pool, p.requested, p.opened, p.failed]),
    [
      ['orders', 2, 2, 0],
      ['users', 3, 3, 0],
    ],
  )
  assert.ok(durationMillis >= 0)
  await registry.close()
})

warmup("a pool of the user's own that throws instead of rejecting fails its warm-up and close like the others", async () => {
  const registry = createPoolRegistry()
  const orders = registry.register(new FakePool('orders'))
  const broken = registry.register(new FakePool('broken'))
  const users = registry.register(new FakePool('users'))
  broken.warmup = () => {
    throw new Error('threw at once')
  }
  const warmed = await rejects(registry.warmup(), AggregateError)
  assert.match(warmed.message, 'Could not warm up 1 of 3 pool(s).')
  await rejects(registry.ready, AggregateError)
  broken.close = () => {
    throw new Error('threw at once')
  }
  const closed = await rejects(registry.close(), AggregateError)
  assert.match(closed.message, 'Could not close 1 of 3 pool(s).')
  assert.equal([orders.state, users.state], ['closed', 'closed'], 'the others closed')
  // It did not close (it threw before doing anything): it stays registered, for a retry.
  assert.equal(registry.names(), ['broken'], 'the others removed')
  assert.is(broken.state, 'created')
})

warmup("with timeoutMillis, a pool of one's own that has not finished 5 s after it fails with PoolWarmupError; without, the pool's own bound applies", async () => {
  const clock = new ManualClock()
  const registry = createPoolRegistry({ clock })
  const gate = deferred()
  registry.register(new FakePool('reports', { warmupGate: gate.promise }))
  registry.register(new FakePool('orders'))
  const warming = registry.warmup()
  await turn()
  assert.is(clock.pendingTimers, 0, 'no bound without timeoutMillis')
  gate.resolve()
  await warming
  await registry.close()
  const stuck = deferred()
  registry.register(new FakePool('audit', { warmupGate: stuck.promise }))
  let outcome: unknown
  registry.warmup({ timeoutMillis: 1_000 }).then(undefined, (error: unknown) => void (outcome = error))
  await clock.advance(6_000 - 1)
  assert.is(outcome, undefined)
  await clock.advance(1)
  // Before: warmup() and `ready` waited for good.
  assert.instance(outcome, RegistryWarmupError)
  const errors = (outcome as RegistryWarmupError).errors as PoolWarmupError[]
  assert.is(errors.length, 1)
  assert.instance(errors[0], PoolWarmupError)
  assert.is(errors[0]!.message, "Could not warm up pool 'audit' (fake://app@memory/audit). It had not finished 6000ms after it was asked to.")
  assert.is(clock.pendingTimers, 0)
  await rejects(registry.ready, RegistryWarmupError)
  assert.not.ok(registry.isReady)
  // Its warm-up ending after all changes nothing: the next warmup() decides.
  stuck.resolve()
  await turn()
  assert.not.ok(registry.isReady)
  await registry.warmup({ timeoutMillis: 1_000 })
  assert.ok(registry.isReady)
  await registry.close()
})

warmup('passes the warmup options to every pool', async () => {
  const registry = createPoolRegistry()
  const orders = registry.register(new FakePool('orders'))
  const report = await registry.warmup({ connections: 4, timeoutMillis: 1000 })
  assert.equal(orders.calls.warmup, [{ connections: 4, timeoutMillis: 1000 }])
  assert.is(report.pools[0]?.opened, 4)
  await registry.close()
})

warmup('ready resolves once warmup has finished, and isReady follows', async () => {
  const registry = createPoolRegistry()
  const gate = deferred()
  registry.register(new FakePool('orders', { warmupGate: gate.promise }))
  const ready = registry.ready
  assert.is(registry.ready, ready)
  assert.not.ok(registry.isReady)
  const report = registry.warmup()
  assert.ok(await isPending(ready))
  gate.resolve()
  await report
  await ready
  assert.ok(registry.isReady)
  await registry.close()
  assert.not.ok(registry.isReady)
})

warmup('ready taken after warmup resolves at once', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders'))
  await registry.warmup()
  await registry.ready
  assert.ok(registry.isReady)
  await registry.close()
})

warmup('an empty registry is ready after warmup', async () => {
  const registry = createPoolRegistry()
  const report = await registry.warmup()
  assert.equal(report.pools, [])
  await registry.ready
  assert.ok(registry.isReady)
})

warmup('of two overlapping warm-ups, a success that finishes last leaves ready resolved, as isReady says', async () => {
  const secondAttempt = deferred()
  class FlakyPool extends FakePool {
    #attempts = 0
    override async warmup(options?: Parameters<FakePool['warmup']>[0]) {
      if (this.#attempts++ === 0) throw new PoolWarmupError(this.name, this.target, 'No connection could be opened.')
      await secondAttempt.promise
      return super.warmup(options)
    }
  }
  const registry = createPoolRegistry()
  registry.register(new FlakyPool('orders'))
  const first = rejects(registry.warmup(), AggregateError)
  const second = registry.warmup()
  await first
  secondAttempt.resolve()
  await second
  assert.ok(registry.isReady)
  await registry.ready
  await registry.close()
})

warmup('a failing pool rejects warmup and ready with a RegistryWarmupError (an AggregateError with a code) of every PoolWarmupError', async () => {
  const registry = createPoolRegistry()
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432')
  registry.register(new FakePool('orders', { warmupError: refused }))
  registry.register(new FakePool('users'))
  registry.register(new FakePool('billing', { warmupError: refused }))
  const ready = registry.ready
  const error = await rejects(registry.warmup(), RegistryWarmupError, 'ERR_REGISTRY_WARMUP')
  assert.instance(error, AggregateError)
  assert.is(error.name, 'RegistryWarmupError')
  assert.is(error.message, 'Could not warm up 2 of 3 pool(s).')
  assert.is(error.errors.length, 2)
  for (const failure of error.errors) {
    assert.instance(failure, PoolWarmupError)
    assert.is((failure as PoolWarmupError).code, 'ERR_POOL_WARMUP')
    assert.is((failure as PoolWarmupError).cause, refused)
  }
  assert.equal(
    error.errors.map((e: PoolWarmupError) => e.pool),
    ['orders', 'billing'],
  )
  assert.is(await rejects(ready, AggregateError), error)
  assert.not.ok(registry.isReady)
  await registry.close()
})

warmup('a failed warmup nobody awaits ready for causes no unhandled rejection', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders', { warmupError: new Error('refused') }))
  await rejects(registry.warmup(), AggregateError)
  // The setup fails the run on an unhandled rejection; reaching the end of the file is the assertion.
  await new Promise((resolve) => setImmediate(resolve))
  assert.not.ok(registry.isReady)
})

warmup('bad options reject with the InvalidOptionError itself, before any pool starts, and leave ready untouched', async () => {
  const registry = createPoolRegistry()
  const orders = registry.register(new FakePool('orders', { maxSize: 5 }))
  const ready = registry.ready
  const cases: [object, string, string][] = [
    [{ connections: 0 }, 'connections', 'an integer between 1 and 5'],
    [{ connections: 6 }, 'connections', 'an integer between 1 and 5'],
    [{ timeoutMillis: 2 ** 32 }, 'timeoutMillis', 'an integer number of milliseconds between 1 and 2147483647'],
    [{ conections: 2 }, 'conections', 'a known option'],
  ]
  for (const [options, option, expected] of cases) {
    const error = await rejects(registry.warmup(options), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.is(error.expected, expected)
    assert.match(error.message, 'Invalid options for registry.warmup')
  }
  assert.is(orders.calls.warmup.length, 0)
  assert.is(registry.ready, ready)
  assert.ok(await isPending(ready), 'ready neither rejected nor resolved')
  await registry.warmup({ connections: 5 })
  await ready
  assert.ok(registry.isReady)
  await registry.close()
})

warmup('a bad call after a successful warm-up leaves the registry ready', async () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders'))
  await registry.warmup()
  await rejects(registry.warmup({ connections: 0 }), InvalidOptionError)
  await registry.ready
  assert.ok(registry.isReady)
  await registry.close()
})

warmup('a warm-up that close() overtook settles neither isReady nor ready', async () => {
  const registry = createPoolRegistry()
  const gate = deferred()
  registry.register(new FakePool('orders', { warmupGate: gate.promise }))
  const warming = registry.warmup().then(() => 'warmed', (error: Error) => error.name)
  await registry.close()
  gate.resolve()
  await warming
  assert.is(registry.isReady, false, 'closed since: nothing is ready')
  assert.ok(await isPending(registry.ready), '`ready` waits for the next warm-up')
  // A warm-up after the close decides again.
  registry.register(new FakePool('orders'))
  await registry.warmup()
  assert.is(registry.isReady, true)
  await registry.ready
  await registry.close()
})

warmup.run()
