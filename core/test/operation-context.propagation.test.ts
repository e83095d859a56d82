import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { EventEmitter, EventEmitterAsyncResource } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import { OperationContext, createServiceContainer, type ServiceContainer } from '../src/index.js'
import { deferred, turn } from './_helpers/async.js'

const propagation = suite('OperationContext propagation')

let container: ServiceContainer
propagation.before.each(() => {
  container = createServiceContainer()
})
propagation.after.each(async () => {
  await container.dispose()
})

function start(operation: string, requestId?: string): OperationContext {
  return OperationContext.create('orders-api', operation, requestId === undefined ? { container } : { container, requestId })
}

propagation('survives await', async () => {
  const context = start('GET /await')
  await context.run(async () => {
    await Promise.resolve()
    await turn()
    await delay(1)
    assert.is(OperationContext.current(), context)
  })
})

propagation('survives setTimeout, setImmediate, process.nextTick and queueMicrotask', async () => {
  const context = start('GET /timers')
  const seen = await context.run(
    () =>
      new Promise<(OperationContext | undefined)[]>((resolve) => {
        const found: (OperationContext | undefined)[] = []
        setTimeout(() => {
          found.push(OperationContext.tryCurrent())
          setImmediate(() => {
            found.push(OperationContext.tryCurrent())
            process.nextTick(() => {
              found.push(OperationContext.tryCurrent())
              queueMicrotask(() => {
                found.push(OperationContext.tryCurrent())
                resolve(found)
              })
            })
          })
        }, 1)
      }),
  )
  assert.equal(seen.length, 4)
  assert.ok(seen.every((found) => found === context))
})

propagation('survives promise chains, including callbacks attached later', async () => {
  const context = start('GET /chains')
  const gate = deferred()
  const chain = context.run(() =>
    gate.promise
      .then(() => OperationContext.current())
      .then((found) => [found, OperationContext.current()] as const)
      .finally(() => assert.is(OperationContext.current(), context)),
  )
  // Resolved from outside the context: the callbacks still run in the context they were attached in.
  gate.resolve()
  const [first, second] = await chain
  assert.is(first, context)
  assert.is(second, context)
})

propagation('survives EventEmitter callbacks emitted from the operation code', async () => {
  const context = start('GET /events')
  const emitter = new EventEmitter()
  const seen = deferred<OperationContext | undefined>()
  emitter.on('row', () => seen.resolve(OperationContext.tryCurrent()))
  context.run(() => {
    setTimeout(() => emitter.emit('row'), 1)
  })
  assert.is(await seen.promise, context)
})

propagation('an EventEmitterAsyncResource created in the operation keeps its context when emitted from outside', async () => {
  const context = start('GET /stream')
  const emitter = context.run(() => new EventEmitterAsyncResource({ name: 'RowStream' }))
  const seen = deferred<OperationContext | undefined>()
  emitter.on('row', () => seen.resolve(OperationContext.tryCurrent()))
  // Emitted with no operation current (as a driver socket would).
  setImmediate(() => emitter.emit('row'))
  assert.is(await seen.promise, context)
  emitter.emitDestroy()
})

propagation('code scheduled outside the operation does not see it', async () => {
  const context = start('GET /outside')
  const outside = deferred<OperationContext | undefined>()
  setImmediate(() => outside.resolve(OperationContext.tryCurrent()))
  await context.run(() => turn())
  assert.is(await outside.promise, undefined)
})

propagation('1,000 interleaved concurrent operations never see each other', async () => {
  const mismatches: string[] = []
  const check = (context: OperationContext, step: string) => {
    const found = OperationContext.tryCurrent()
    if (found !== context) mismatches.push(`${context.requestId ?? '?'} ${step}: saw ${found?.requestId ?? 'none'}`)
  }
  const operations = Array.from({ length: 1000 }, (_, i) => {
    const context = start('GET /orders/:id', `req-${i}`)
    return context.run(async () => {
      check(context, 'start')
      // Different waits per operation, so their steps interleave in many orders.
      switch (i % 4) {
        case 0:
          await delay(i % 7)
          break
        case 1:
          await turn()
          break
        case 2:
          await new Promise<void>((resolve) => process.nextTick(resolve))
          break
        default:
          await Promise.resolve()
      }
      check(context, 'after first wait')
      await Promise.all([delay(i % 3), turn().then(() => check(context, 'inside Promise.all'))])
      check(context, 'after Promise.all')
      await new Promise<void>((resolve) => setTimeout(() => {
        check(context, 'in setTimeout')
        resolve()
      }, (i * 7) % 5))
      check(context, 'end')
      return context.requestId
    })
  })
  const ids = await Promise.all(operations)
  assert.equal(mismatches, [])
  assert.is(new Set(ids).size, 1000)
  assert.is(OperationContext.tryCurrent(), undefined)
})

propagation.run()
