import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { getEventListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { OperationContext, createServiceContainer, type ServiceContainer } from '../src/index.js'
import { sleep, within } from './_helpers/async.js'

const signal = suite('OperationContext signal')

let container: ServiceContainer
signal.before.each(() => {
  container = createServiceContainer()
})
signal.after.each(async () => {
  await container.dispose()
})

function aborted(target: AbortSignal): Promise<unknown> {
  if (target.aborted) return Promise.resolve(target.reason)
  return within(new Promise((resolve) => target.addEventListener('abort', () => resolve(target.reason), { once: true })), 2000, 'the abort event')
}

signal('a fresh context is not aborted', () => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container })
  assert.not.ok(context.aborted)
  assert.not.ok(context.signal.aborted)
  assert.is(context.signal, context.signal)
})

signal('aborts when the parent signal aborts, with the parent reason', async () => {
  const parent = new AbortController()
  const context = OperationContext.create('orders-api', 'GET /orders', { container, signal: parent.signal })
  const waiting = aborted(context.signal)
  const reason = new Error('client closed the connection')
  parent.abort(reason)
  assert.is(await waiting, reason)
  assert.ok(context.aborted)
})

signal('after dispose(), aborted says how the operation ended: a later deadline or parent abort leaves it false, as the signal', async () => {
  const parent = new AbortController()
  const context = OperationContext.create('api', 'done', { container, signal: parent.signal, deadlineMillis: 5 })
  const seen = context.signal
  await context.dispose()
  parent.abort()
  await sleep(20)
  assert.is(context.aborted, false)
  assert.is(seen.aborted, false, 'abort listeners do not run after an operation that completed')
})

signal('a parent that aborted before the signal was read is seen at once', () => {
  const parent = new AbortController()
  const context = OperationContext.create('orders-api', 'GET /orders', { container, signal: parent.signal })
  parent.abort('gone')
  assert.ok(context.aborted, 'aborted is true without creating the signal')
  assert.ok(context.signal.aborted)
  assert.is(context.signal.reason, 'gone')
})

signal('an already aborted parent signal aborts the context', () => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container, signal: AbortSignal.abort('early') })
  assert.ok(context.aborted)
  assert.is(context.signal.reason, 'early')
})

signal('abort() aborts the signal with an AbortError, or the given reason, once', () => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container })
  const events: unknown[] = []
  context.signal.addEventListener('abort', () => events.push(context.signal.reason))
  context.abort()
  context.abort(new Error('second call is ignored'))
  assert.ok(context.aborted)
  assert.is(events.length, 1)
  assert.instance(events[0], DOMException)
  assert.is((events[0] as DOMException).name, 'AbortError')
  const withReason = OperationContext.create('orders-api', 'GET /orders', { container })
  const reason = new Error('shutting down')
  withReason.abort(reason)
  assert.is(withReason.signal.reason, reason)
})

signal('abort() before the signal is read is kept for when it is', () => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container })
  context.abort('client gone')
  assert.ok(context.aborted)
  assert.ok(context.signal.aborted)
  assert.is(context.signal.reason, 'client gone')
})

signal('aborts with a TimeoutError when deadlineMillis passes', async () => {
  const started = performance.now()
  const context = OperationContext.create('orders-api', 'GET /slow', { container, deadlineMillis: 30 })
  const reason = await aborted(context.signal)
  const waited = performance.now() - started
  assert.ok(waited >= 25, `aborted after ${waited}ms`)
  assert.instance(reason, DOMException)
  assert.is((reason as DOMException).name, 'TimeoutError')
  assert.match((reason as DOMException).message, 'deadline')
  assert.ok(context.aborted)
})

signal('a deadline that passed before the signal was read aborts it at once', async () => {
  const context = OperationContext.create('orders-api', 'GET /slow', { container, deadlineMillis: 5 })
  await sleep(15)
  assert.ok(context.aborted)
  assert.ok(context.signal.aborted)
  assert.is((context.signal.reason as DOMException).name, 'TimeoutError')
})

signal('the deadline does not fire once the operation is disposed', async () => {
  const context = OperationContext.create('orders-api', 'GET /fast', { container, deadlineMillis: 20 })
  const events: unknown[] = []
  context.signal.addEventListener('abort', () => events.push(context.signal.reason))
  await context.dispose()
  await sleep(40)
  assert.equal(events, [])
  assert.not.ok(context.signal.aborted)
})

signal('a disposed context stops following its parent signal', async () => {
  const parent = new AbortController()
  const context = OperationContext.create('orders-api', 'GET /fast', { container, signal: parent.signal })
  const events: unknown[] = []
  context.signal.addEventListener('abort', () => events.push('aborted'))
  await context.dispose()
  parent.abort()
  assert.equal(events, [])
})

signal('whichever comes first wins: an earlier parent abort keeps its reason past the deadline', async () => {
  const parent = new AbortController()
  const context = OperationContext.create('orders-api', 'GET /orders', { container, signal: parent.signal, deadlineMillis: 20 })
  const waiting = aborted(context.signal)
  parent.abort('client gone')
  assert.is(await waiting, 'client gone')
  await sleep(30)
  assert.is(context.signal.reason, 'client gone')
})

signal('after dispose(), a signal first read then, or abort(), still says how the operation ended', async () => {
  // The caller's signal aborted during the operation, which never read its own: it ended not aborted.
  const during = new AbortController()
  const unread = OperationContext.create('api', 'done', { container, signal: during.signal })
  await unread.dispose()
  during.abort('late')
  assert.is(unread.aborted, false)
  assert.is(unread.signal.aborted, false, 'the signal made after dispose() does not follow the caller')
  assert.is(unread.aborted, false)
  unread.abort('later still')
  assert.is(unread.aborted, false, 'abort() after dispose() changes nothing')
  assert.is(unread.signal.aborted, false)
})

signal('operations that share a caller signal put one listener on it, gone when the last is disposed', async () => {
  const shutdown = new AbortController()
  const contexts = Array.from({ length: 25 }, () => OperationContext.create('jobs', 'charge', { container, signal: shutdown.signal }))
  for (const context of contexts) void context.signal
  assert.is(getEventListeners(shutdown.signal, 'abort').length, 1, 'not one per operation: Node warns past 10')
  await contexts[0]!.dispose()
  assert.is(getEventListeners(shutdown.signal, 'abort').length, 1)
  shutdown.abort('shutting down')
  assert.is(contexts[0]!.aborted, false, 'the disposed one ended before the abort')
  for (const context of contexts.slice(1)) assert.is(context.signal.reason, 'shutting down')
  assert.is(getEventListeners(shutdown.signal, 'abort').length, 0)
  const other = new AbortController()
  const two = [1, 2].map(() => OperationContext.create('jobs', 'charge', { container, signal: other.signal }))
  for (const context of two) void context.signal
  for (const context of two) await context.dispose()
  assert.is(getEventListeners(other.signal, 'abort').length, 0, 'the listener goes with the last follower')
})

signal.run()
