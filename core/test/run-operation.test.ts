import { spawnSync } from 'node:child_process'
import { inspect } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, OperationContext, createServiceContainer, runOperation, DisposeFailedError } from '../src/index.js'
import { deferred, isPending, turn } from './_helpers/async.js'
import { rejects } from '@lifeguard/test-kit'

const run = suite('runOperation')

run('runs the job in its own context and returns its result', async () => {
  const container = createServiceContainer()
  const result = await runOperation(
    'billing-worker',
    'charge',
    async (context) => {
      assert.is(OperationContext.current(), context)
      assert.is(context.handler, 'billing-worker')
      assert.is(context.operation, 'charge')
      assert.is(context.requestId, 'job-17')
      await turn()
      assert.is(OperationContext.current(), context)
      return { charged: 3 }
    },
    { container, requestId: 'job-17' },
  )
  assert.equal(result, { charged: 3 })
  assert.is(OperationContext.tryCurrent(), undefined)
  await container.dispose()
})

run("disposers run in the job's own context, also a nested job's", async () => {
  const seen: (string | undefined)[] = []
  const container = createServiceContainer().scoped('audit', () => ({ [Symbol.dispose]: () => void seen.push(OperationContext.tryCurrent()?.requestId) }))
  await runOperation('worker', 'outer', async (outer) => {
    outer.get('audit')
    await runOperation('worker', 'inner', (inner) => void inner.get('audit'), { container, requestId: 'inner-2' })
  }, { container, requestId: 'outer-1' })
  assert.equal(seen, ['inner-2', 'outer-1'])
  await container.dispose()
})

run("disposing the container aborts the jobs still running on it (their signal's reason is a DisposedError)", async () => {
  const container = createServiceContainer().scoped('connection', () => ({ open: true, [Symbol.dispose]() { this.open = false } }))
  const job = runOperation('worker', 'drain-queue', async (context) => {
    const connection = context.get('connection') as { open: boolean }
    // The timer only bounds a failure: without the abort the job would wait for good.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000)
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        resolve()
      }, { once: true })
    })
    return { reason: (context.signal.reason as Error | undefined)?.name, openWhenAborted: connection.open }
  }, { container })
  await turn()
  await container.dispose()
  assert.equal(await job, { reason: 'DisposedError', openWhenAborted: true })
})

run("disposing the container disposes the running operations too: their disposers see them disposed, and they end", async () => {
  const seen: string[] = []
  let operation: OperationContext | undefined
  const container = createServiceContainer().scoped('lock', (r) => ({ context: r.resolve('operationContext') }), {
    // What a pool asks of an operation before it lets an aborted one's cleanup have a connection.
    dispose: ({ context }) => void seen.push(`aborted ${context.aborted}, disposed ${context.disposed}`),
  })
  const job = runOperation('worker', 'hold-lock', async (context) => {
    operation = context
    context.get('lock')
    await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }))
  }, { container })
  await turn()
  await container.dispose()
  await job
  // Before the fix it read as aborted and not disposed, and its cleanup's queries were refused.
  assert.equal(seen, ['aborted true, disposed true'])
  assert.ok(operation?.ended, 'it ended with its scope')
})

run('disposing the container ends a running operation whose scope holds nothing to dispose too', async () => {
  const container = createServiceContainer()
  const context = OperationContext.create('worker', 'idle', { container })
  await container.dispose()
  assert.ok(context.aborted)
  assert.ok(context.disposed)
  assert.ok(context.ended)
})

run("an abort listener that disposes the container again, or starts a job on it, finds it disposing", async () => {
  let closed = 0
  const container = createServiceContainer().singleton('pool', () => ({}), { dispose: async () => void closed++ })
  container.resolve('pool')
  const context = OperationContext.create('worker', 'long', { container })
  let second: Promise<void> | undefined
  let late: Promise<unknown> | undefined
  let pool: unknown
  context.signal.addEventListener('abort', () => {
    // A singleton still resolves there (a logger to say why the work stops).
    pool = context.get('pool')
    second = container.dispose()
    late = runOperation('worker', 'compensate', () => 'ran', { container }).catch((error: Error) => error.name)
  })
  const first = container.dispose()
  assert.ok(second !== undefined, 'the listener ran within dispose()')
  await Promise.all([first, second])
  assert.is(closed, 1, "the singleton's disposer ran once")
  assert.ok(pool !== undefined, 'the singleton resolved in the listener')
  assert.is(second, first, 'the same disposal')
  assert.is(await late, 'DisposedError', 'no job starts on a container being disposed')
  assert.is(container.openScopes, 0)
})

run('a bad option is refused in the name of runOperation, the function called', async () => {
  const error = await rejects(runOperation('worker', 'nightly', () => undefined, { container: createServiceContainer(), deadlineMillis: -1 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'deadlineMillis')
  assert.match(error.message, 'Invalid options for runOperation')
})

run('accepts a synchronous job', async () => {
  const container = createServiceContainer()
  assert.is(await runOperation('billing-worker', 'count', () => 7, { container }), 7)
  await container.dispose()
})

run('disposes the scope after a successful job, before returning', async () => {
  const log: string[] = []
  const container = createServiceContainer().scoped('session', () => 'session', { dispose: () => void log.push('disposed') })
  let seen: OperationContext | undefined
  await runOperation(
    'billing-worker',
    'charge',
    (context) => {
      seen = context
      context.get('session')
      log.push('job done')
    },
    { container },
  )
  assert.equal(log, ['job done', 'disposed'])
  assert.ok(seen?.disposed)
  assert.is(container.openScopes, 0)
  await container.dispose()
})

run('rethrows the job error after disposing its scope', async () => {
  const log: string[] = []
  const container = createServiceContainer().scoped('session', () => 'session', { dispose: () => void log.push('disposed') })
  const failure = new TypeError('card declined')
  const error = await rejects(
    runOperation(
      'billing-worker',
      'charge',
      async (context) => {
        context.get('session')
        await turn()
        throw failure
      },
      { container },
    ),
    TypeError,
  )
  assert.is(error, failure)
  assert.equal(log, ['disposed'])
  assert.is(container.openScopes, 0)
  await container.dispose()
})

run('a job that throws synchronously still disposes its scope', async () => {
  const log: string[] = []
  const container = createServiceContainer().scoped('session', () => 'session', { dispose: () => void log.push('disposed') })
  await rejects(
    runOperation(
      'billing-worker',
      'charge',
      (context) => {
        context.get('session')
        throw new RangeError('bad amount')
      },
      { container },
    ),
    RangeError,
  )
  assert.equal(log, ['disposed'])
  await container.dispose()
})

run('after a failed job, a disposal failure goes to onError and the job error wins', async () => {
  const reported: unknown[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('tx', () => 'tx', {
    dispose: () => {
      throw new Error('rollback failed')
    },
  })
  const failure = new Error('card declined')
  const error = await rejects(
    runOperation(
      'billing-worker',
      'charge',
      (context) => {
        context.get('tx')
        throw failure
      },
      { container },
    ),
    Error,
  )
  assert.is(error, failure)
  assert.is(reported.length, 1)
  assert.instance(reported[0], AggregateError)
  assert.is(((reported[0] as AggregateError).errors[0] as Error).message, 'rollback failed')
  await container.dispose()
})

run("a disposal failure is redacted, whether it goes to onError or to the job's caller", async () => {
  const reported: unknown[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('conn', () => 'conn', {
    dispose: () => Promise.reject(new Error('could not end postgres://u:secret@h/db')),
  })
  const failed = runOperation('billing-worker', 'charge', (context) => {
    context.get('conn')
    throw new Error('card declined')
  }, { container })
  await rejects(failed, Error)
  assert.is(reported.length, 1)
  assert.is(((reported[0] as AggregateError).errors[0] as Error).message, 'could not end postgres://u:***@h/db')
  const error = await rejects(runOperation('billing-worker', 'charge', (context) => context.get('conn'), { container }), DisposeFailedError, 'ERR_DISPOSE_FAILED')
  assert.is((error.errors[0] as Error).message, 'could not end postgres://u:***@h/db')
  assert.not.match(inspect([reported, error]), 'secret')
  await container.dispose()
})

run('a disposal failure still in flight when container.dispose() starts is reported once, by the job, not to its caller too', async () => {
  const reported: unknown[] = []
  const releasing = deferred()
  const released = deferred()
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('conn', () => 'conn', {
    dispose: () => {
      releasing.resolve()
      return released.promise
    },
  })
  const job = rejects(
    runOperation('worker', 'job', (context) => {
      context.get('conn')
      throw new Error('job failed')
    }, { container }),
    Error,
  )
  await releasing.promise
  // Shutdown starts while the job's scope is still being disposed.
  const shutdown = container.dispose()
  assert.ok(await isPending(shutdown), 'shutdown waits for the disposal in flight')
  released.reject(new Error('could not release connection'))
  await shutdown
  assert.is((await job).message, 'job failed')
  assert.is(reported.length, 1)
  assert.is(((reported[0] as AggregateError).errors[0] as Error).message, 'could not release connection')
})

run('a disposal container.dispose() starts while the job still runs fails once, to its caller: the job, ending meanwhile, does not report it again', async () => {
  for (const jobEnds of ['by throwing', 'by returning'] as const) {
    const reported: unknown[] = []
    const released = deferred()
    const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('conn', () => 'conn', { dispose: () => released.promise })
    const job = runOperation(
      'worker',
      'job',
      async (context) => {
        context.get('conn')
        // The container's dispose aborts the operation; the job ends on that, while its scope is still disposing.
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve))
        if (jobEnds === 'by throwing') throw new Error('aborted')
      },
      { container },
    ).then(
      () => undefined,
      (error: unknown) => error,
    )
    await turn()
    const shutdown = container.dispose().then(
      () => undefined,
      (error: unknown) => error,
    )
    await turn()
    released.reject(new Error('could not release connection'))
    const shutdownError = (await shutdown) as AggregateError
    const jobOutcome = await job
    assert.instance(shutdownError, DisposeFailedError, jobEnds)
    const scopeFailure = shutdownError.errors[0] as AggregateError
    assert.is((scopeFailure.errors[0] as Error).message, 'could not release connection', jobEnds)
    // Neither the job's caller nor onError gets the same failure a second time.
    if (jobEnds === 'by throwing') assert.is((jobOutcome as Error).message, 'aborted', jobEnds)
    else assert.is(jobOutcome, undefined, jobEnds)
    assert.equal(reported, [], jobEnds)
  }
})

run('after a successful job, a disposal failure is thrown', async () => {
  const reported: unknown[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('tx', () => 'tx', {
    dispose: () => Promise.reject(new Error('commit failed')),
  })
  const error = await rejects(
    runOperation('billing-worker', 'charge', (context) => context.get('tx'), { container }),
    DisposeFailedError,
    'ERR_DISPOSE_FAILED',
  )
  assert.is((error.errors[0] as Error).message, 'commit failed')
  assert.equal(reported, [])
  await container.dispose()
})

run('works with a scope the caller created', async () => {
  const container = createServiceContainer()
  const scope = container.createScope()
  const seen = await runOperation('billing-worker', 'charge', (context) => context.scope, { container: scope })
  assert.is(seen, scope)
  assert.ok(scope.disposed)
  await container.dispose()
})

run('the job sees its signal abort when the caller aborts', async () => {
  const container = createServiceContainer()
  const controller = new AbortController()
  const reason = await runOperation(
    'billing-worker',
    'charge',
    (context) =>
      new Promise((resolve) => {
        context.signal.addEventListener('abort', () => resolve(context.signal.reason))
        controller.abort('shutdown')
      }),
    { container, signal: controller.signal },
  )
  assert.is(reason, 'shutdown')
  await container.dispose()
})

run('a job that waits on nothing but its signal is held up by its deadline, not cut off by the process exiting', () => {
  // In a process of its own: with nothing else pending, an unref'd deadline let Node exit (code 13) under the job.
  const index = new URL('../src/index.ts', import.meta.url).href
  const script = `
    import { once, EventEmitter } from 'node:events'
    import { createServiceContainer, runOperation } from '${index}'
    const container = createServiceContainer().scoped('held', () => ({}), { dispose: () => process.stdout.write('disposed\\n') })
    try {
      await runOperation('worker', 'wait', (context) => (context.get('held'), once(new EventEmitter(), 'never', { signal: context.signal })), { container, deadlineMillis: 50 })
    } catch (error) {
      process.stdout.write('rejected ' + error.name + ' ' + error.cause?.name + '\\n')
    }`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })
  assert.is(child.status, 0, child.stderr)
  assert.equal(child.stdout.trim().split('\n'), ['disposed', 'rejected AbortError TimeoutError'])
})

run('rejects bad options with InvalidOptionError before running the job', async () => {
  const container = createServiceContainer()
  let ran = false
  const job = () => {
    ran = true
  }
  const error = await rejects(runOperation('billing-worker', 'charge', job, { container, deadlineMillis: -5 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'deadlineMillis')
  await rejects(runOperation('', 'charge', job, { container }), InvalidOptionError, 'ERR_INVALID_OPTION')
  await rejects(runOperation('billing-worker', 'charge', job, { container, retries: 3 } as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.not.ok(ran)
  assert.is(container.openScopes, 0)
  await container.dispose()
})

run('refuses a job that is not a function with a typed error and leaves no scope open', async () => {
  const container = createServiceContainer()
  for (const notAFunction of [undefined, 'charge', { run() {} }]) {
    const error = await rejects(runOperation('billing-worker', 'charge', notAFunction as never, { container }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'fn')
    assert.match(error.message, 'Invalid options for runOperation: expected `fn` to be a function, got')
  }
  assert.is(container.openScopes, 0)
  await container.dispose()
})

run.run()
