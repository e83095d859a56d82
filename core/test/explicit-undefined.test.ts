import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  PoolTimeoutError,
  createPoolRegistry,
  createServiceContainer,
  type PoolEventsOption,
  type PoolSize,
  type RegistrationOptions,
  type RegistryListener,
  type ResizeOptions,
  type ServiceContainerOptions,
  type WarmupOptions,
} from '../src/index.js'
import { AdmissionQueue, PoolEventHub, resolveResize, type AdmissionQueueOptions } from '../src/adapter.js'
import type { PoolEventListeners } from '../src/pool-events.js'
import { FakePool } from './_helpers/fake-pool.js'

// Consumers compiled with `exactOptionalPropertyTypes` pass `undefined` for an option they leave at its
// default (`{ timeoutMillis: config.timeout }`): each optional option accepts it, in its type (this file is
// type-checked with that setting) and at run time.
const explicit = suite('optional options given as undefined')

explicit('createServiceContainer and registrations take undefined for every optional option', async () => {
  const options: ServiceContainerOptions = { onError: undefined, disposeTimeoutMillis: undefined, clock: undefined }
  const registration: RegistrationOptions<{ closed: boolean }> = { dispose: undefined }
  const container = createServiceContainer(options).scoped('thing', () => ({ closed: false }), registration)
  const scope = container.createScope()
  assert.equal(scope.resolve('thing'), { closed: false })
  await scope.dispose()
  await container.dispose()
})

explicit('the registry and the pool contract take undefined for every optional option', async () => {
  const registry = createPoolRegistry()
  const pool = registry.register(new FakePool('orders'))
  const listener: RegistryListener = { added: undefined, removed: undefined }
  registry.subscribe(listener)
  const warmup: WarmupOptions = { connections: undefined, timeoutMillis: undefined }
  assert.is((await registry.warmup(warmup)).pools.length, 1)
  const size: PoolSize = { minSize: undefined, maxSize: 4 }
  const resize: ResizeOptions = { reason: undefined, details: undefined, keepSurplusMillis: undefined }
  assert.equal(resolveResize('resize', { minSize: 1, maxSize: 10 }, size, resize), { minSize: 1, maxSize: 4 })
  pool.resize(size, resize)
  await registry.close({ timeoutMillis: undefined })
  assert.equal(registry.names(), [])
})

explicit('event listener maps, the admission queue and error options take undefined', async () => {
  const listeners: PoolEventListeners = { onConnect: undefined, onError: undefined, onQuery: undefined }
  const eventsOption: PoolEventsOption = { events: undefined }
  assert.ok(new PoolEventHub('orders', 'fake', listeners))
  assert.ok(new PoolEventHub('orders', 'fake', eventsOption.events))
  const queueOptions: AdmissionQueueOptions = { pool: 'orders', limit: 1, maxWaiting: undefined, timeoutMillis: undefined, lastError: undefined }
  const queue = new AdmissionQueue(queueOptions)
  await queue.acquire()
  assert.is(queue.active, 1)
  queue.release()
  const error = new PoolTimeoutError('orders', 100, { cause: undefined, waiting: undefined })
  assert.is(error.message, "Could not acquire a connection from pool 'orders'. Timed out after 100ms.")
})

explicit.run()
