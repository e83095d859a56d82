import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, type ConnectEvent, type PoolErrorEvent, type PoolEventListeners, type PoolEventName } from '../src/index.js'
import { PoolEventHub, poolEventsRule, validateOptions } from '../src/adapter.js'
import { throwsError, captureWarnings } from '@lifeguard/test-kit'
import { turn } from './_helpers/async.js'

const hub = suite('PoolEventHub')

hub('calls every listener of an event, in order, with pool and kind filled in', () => {
  const events = new PoolEventHub('orders', 'postgres')
  const seen: string[] = []
  events.on('connect', (e) => void seen.push(`first ${e.pool} ${e.kind} ${e.connectionId}`))
  events.on('connect', (e) => void seen.push(`second ${e.createMillis}`))
  events.emit('connect', { connectionId: 7, createMillis: 12 })
  assert.equal(seen, ['first orders postgres 7', 'second 12'])
})

hub('a listener added while an event is delivered hears from the next event on, with one listener or several', () => {
  for (const before of [1, 2]) {
    const events = new PoolEventHub('orders', 'postgres')
    const seen: string[] = []
    let armed = 0
    // A listener that arms another on each event: called with the event that armed it, it would arm for good.
    const arm = (): void => {
      armed++
      if (armed > 10) throw new Error('armed in a loop')
      events.on('connect', (e) => void seen.push(`armed ${e.connectionId}`))
    }
    events.on('connect', arm)
    if (before === 2) events.on('connect', () => undefined)
    events.emit('connect', { connectionId: 1, createMillis: 1 })
    assert.equal(seen, [], `${before} listener(s): the new one is not called with the event that added it`)
    assert.is(armed, 1)
  }
})

hub('takes the on* listeners of the events option, one set or several', () => {
  const seen: string[] = []
  const events = new PoolEventHub('orders', 'postgres', [
    { onConnect: () => void seen.push('a connect'), onResize: (e) => void seen.push(`a resize ${e.next.maxSize}`) },
    { onConnect: () => void seen.push('b connect') },
  ])
  events.emit('connect', { connectionId: 1, createMillis: 1 })
  events.emit('resize', { previous: { minSize: 0, maxSize: 5 }, next: { minSize: 0, maxSize: 8 }, reason: 'manual' })
  assert.equal(seen, ['a connect', 'b connect', 'a resize 8'])
  const single = new PoolEventHub('orders', 'postgres', { onLeak: () => {} })
  assert.ok(single.has('leak'))
  assert.is(single.listenerCount, 1)
})

hub('unsubscribing removes only that listener and leaves nothing behind', () => {
  const events = new PoolEventHub('orders', 'postgres')
  const seen: string[] = []
  const offA = events.on('release', () => void seen.push('a'))
  const offB = events.on('release', () => void seen.push('b'))
  offA()
  offA()
  events.emit('release', { useMillis: 1 })
  assert.equal(seen, ['b'])
  offB()
  assert.not.ok(events.has('release'))
  assert.is(events.listenerCount, 0)
})

hub('unsubscribing twice removes one subscription only, also when the same function is subscribed twice', () => {
  const events = new PoolEventHub('orders', 'postgres')
  let calls = 0
  const log = (): void => void calls++
  const offFirst = events.on('release', log)
  events.on('release', log)
  offFirst()
  offFirst()
  events.emit('release', { useMillis: 1 })
  assert.is(calls, 1, "the second subscription's listener still runs")
  assert.is(events.listenerCount, 1)
})

hub('a listener may unsubscribe itself while the event is being emitted', () => {
  const events = new PoolEventHub('orders', 'postgres')
  const seen: string[] = []
  const off = events.on('acquire', () => {
    seen.push('once')
    off()
  })
  events.on('acquire', () => void seen.push('always'))
  events.emit('acquire', { waitMillis: 0 })
  events.emit('acquire', { waitMillis: 0 })
  assert.equal(seen, ['once', 'always', 'always'])
})

hub('emitting an event nobody listens to does nothing', () => {
  const events = new PoolEventHub('orders', 'postgres')
  assert.not.ok(events.has('timeout'))
  events.emit('timeout', { waitMillis: 1, waitingRequests: 0 })
})

hub('a listener that throws is reported to the error listeners; the others still run and the emitter is unharmed', () => {
  const events = new PoolEventHub('orders', 'postgres')
  const reported: PoolErrorEvent[] = []
  const seen: ConnectEvent[] = []
  events.on('error', (e) => void reported.push(e))
  events.on('connect', () => {
    throw new Error('listener bug')
  })
  events.on('connect', (e) => void seen.push(e))
  events.emit('connect', { connectionId: 1, createMillis: 3 })
  assert.is(seen.length, 1)
  assert.is(reported.length, 1)
  assert.is(reported[0]?.source, 'listener')
  assert.is(reported[0]?.pool, 'orders')
  assert.is(reported[0]?.error.message, 'listener bug')
})

hub('a listener that rejects is reported to the error listeners without an unhandled rejection', async () => {
  const events = new PoolEventHub('orders', 'postgres')
  const reported: PoolErrorEvent[] = []
  events.on('error', (e) => void reported.push(e))
  events.on('release', async () => {
    await turn()
    throw new Error('async listener bug')
  })
  events.emit('release', { useMillis: 2 })
  assert.is(reported.length, 0)
  await turn()
  await turn()
  assert.is(reported.length, 1)
  assert.is(reported[0]?.error.message, 'async listener bug')
  assert.is(reported[0]?.source, 'listener')
})

hub('whatever a listener returns but a rejected promise is no failure: null, false, a value, an expression', async () => {
  const verbose = false
  const seen: string[] = []
  const failures: PoolErrorEvent[] = []
  // Written as users write them; each compiles against `on()` and the events option.
  const events = new PoolEventHub('orders', 'postgres', { onConnect: (e) => verbose && seen.push(`never ${e.connectionId}`) })
  events.on('error', (e) => void failures.push(e))
  events.on('connect', () => null)
  events.on('connect', (e) => seen.push(`connect ${e.connectionId}`))
  events.on('connect', async () => 'done')
  events.emit('connect', { connectionId: 3, createMillis: 1 })
  await turn()
  assert.equal(seen, ['connect 3'])
  assert.equal(failures, [], 'none reported as a failing listener')
})

hub('a thrown non-Error is wrapped into an Error', () => {
  const events = new PoolEventHub('orders', 'postgres')
  const reported: PoolErrorEvent[] = []
  events.on('error', (e) => void reported.push(e))
  events.on('leak', () => {
    throw 'a string'
  })
  events.emit('leak', { state: 'suspected', heldMillis: 1 })
  assert.instance(reported[0]?.error, Error)
  assert.is(reported[0]?.error.message, 'a string')
})

hub('without error listeners a failing listener becomes a process warning', async () => {
  const warnings = await captureWarnings(async () => {
    const events = new PoolEventHub('orders', 'postgres')
    events.on('connect', () => {
      throw new Error('sync bug')
    })
    events.on('disconnect', () => Promise.reject(new Error('async bug')))
    events.emit('connect', { connectionId: 1, createMillis: 1 })
    events.emit('disconnect', { reason: 'idle' })
    await turn()
  })
  assert.is(warnings.length, 2)
  assert.is(warnings[0]?.code, 'LIFEGUARD_LISTENER_FAILED')
  assert.is(warnings[0]?.message, "A listener for 'connect' of pool 'orders' failed: sync bug")
  assert.is(warnings[1]?.message, "A listener for 'disconnect' of pool 'orders' failed: async bug")
})

hub("a failing listener's error is reported redacted, as an error event and as a warning", async () => {
  const password = 'pw-listener-s3cret'
  const reported: string[] = []
  const warnings = await captureWarnings(async () => {
    const events = new PoolEventHub('orders', 'postgres', undefined, [password])
    const failing = (): never => {
      throw new Error(`could not log to postgres://app:${password}@db/orders (password ${password})`)
    }
    events.on('connect', failing)
    events.on('error', (e) => void reported.push(e.error.message))
    events.emit('connect', { connectionId: 1, createMillis: 1 })
    const unheard = new PoolEventHub('orders', 'postgres', undefined, [password])
    unheard.on('connect', failing)
    unheard.emit('connect', { connectionId: 1, createMillis: 1 })
  })
  assert.is(reported.length, 1)
  assert.is(warnings.length, 1)
  for (const text of [...reported, String(warnings[0]?.message)]) {
    assert.not.match(text, password)
    assert.match(text, 'could not log to postgres://app:***@db/orders (password ***)')
  }
})

hub('a failing error listener becomes a process warning, never a loop or a throw', async () => {
  const seen: string[] = []
  const warnings = await captureWarnings(async () => {
    const events = new PoolEventHub('orders', 'postgres')
    events.on('error', () => {
      throw new Error('error listener bug')
    })
    events.on('error', (e) => void seen.push(e.error.message))
    events.on('connect', () => {
      throw new Error('connect bug')
    })
    events.emit('connect', { connectionId: 1, createMillis: 1 })
  })
  assert.equal(seen, ['connect bug'])
  assert.is(warnings.length, 1)
  assert.is(warnings[0]?.message, "A listener for 'error' of pool 'orders' failed: error listener bug")
})

hub('refuses a listener map with an unknown key or a non-function when it is built, naming the entry', () => {
  const typo = throwsError(() => new PoolEventHub('orders', 'postgres', { onErorr: () => {} } as PoolEventListeners), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(typo.option, 'events.onErorr')
  assert.match(typo.message, "Invalid options for the events of pool 'orders': unknown listener `events.onErorr`.")
  const notAFunction = throwsError(() => new PoolEventHub('orders', 'postgres', { onError: 5 } as unknown as PoolEventListeners), InvalidOptionError)
  assert.is(notAFunction.option, 'events.onError')
  const notAMap = throwsError(() => new PoolEventHub('orders', 'postgres', ['x'] as unknown as PoolEventListeners[]), InvalidOptionError)
  assert.is(notAMap.option, 'events[0]')
})

hub('on() refuses an unknown event and a listener that is not a function', () => {
  const events = new PoolEventHub('orders', 'postgres')
  const unknown = throwsError(() => events.on('conect' as PoolEventName, () => {}), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(unknown.option, 'event')
  assert.match(unknown.message, "Invalid options for pool 'orders'.on(): expected `event` to be one of `connect`, `disconnect`, `error`")
  const notAFunction = throwsError(() => events.on('error', 5 as unknown as () => void), InvalidOptionError)
  assert.is(notAFunction.option, 'listener')
  assert.match(notAFunction.message, "pool 'orders'.on('error'): expected `listener` to be a function, got `5` (number)")
  assert.is(events.listenerCount, 0)
})

hub('poolEventsRule lets an adapter check its events option with its own name', () => {
  const error = throwsError(() => validateOptions('createMyPool', { events: { onConect: () => {} } }, { events: poolEventsRule }), InvalidOptionError)
  assert.is(error.option, 'events.onConect')
  assert.match(error.message, 'Invalid options for createMyPool: unknown listener `events.onConect`. Known listeners: `onConnect`, `onDisconnect`, `onError`, `onPoolCreated`, `onAcquire`, `onRelease`, `onResize`, `onLeak`, `onTimeout`, `onSuspend`, `onResume`, `onQuery`.')
})

hub.run()
