import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BUDGET_QUERY, budgetLimit, createSharedBudget, type BudgetQuery, type BudgetReading } from '../src/index.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { rejects, throwsError } from '@lifeguard/test-kit'

/** A pool holding `open` connections, `opening` more on the way. */
function holding(open: number, opening = 0) {
  return { totalConnections: open + opening, activeConnections: open, idleConnections: 0 }
}

const limit = suite('budgetLimit')

limit('lets an instance keep what it holds and take a share of what is free', () => {
  assert.is(budgetLimit({ total: 90, held: 70, own: 30, claimFraction: 0.5 }), 40)
  assert.is(budgetLimit({ total: 90, held: 70, own: 30, claimFraction: 1 }), 50)
  assert.is(budgetLimit({ total: 100, held: 10, own: 10, claimFraction: 0.5 }), 55)
})

limit('two instances deciding at once with half the free budget each end at the total, not past it', () => {
  // A and B hold 20 each out of 100: both see 60 free and each may take 30.
  const a = budgetLimit({ total: 100, held: 40, own: 20, claimFraction: 0.5 })
  const b = budgetLimit({ total: 100, held: 40, own: 20, claimFraction: 0.5 })
  assert.is(a + b, 100)
})

limit('over the budget, every instance gives back in proportion to what it holds', () => {
  assert.is(budgetLimit({ total: 90, held: 120, own: 60, claimFraction: 0.5 }), 45)
  assert.is(budgetLimit({ total: 90, held: 120, own: 60, claimFraction: 0.5 }) + budgetLimit({ total: 90, held: 120, own: 60, claimFraction: 0.5 }), 90)
})

limit('counts the connections an instance is still opening, which the server does not list yet', () => {
  // 30 open (in the 70 held) and 6 opening: as if 76 were held, 36 of them ours.
  assert.is(budgetLimit({ total: 90, held: 70, own: 30, opening: 6, claimFraction: 0.5 }), 36 + 7)
})

limit('with maxInstances, takes ceil(free / maxInstances) of what is free', () => {
  assert.is(budgetLimit({ total: 90, held: 70, own: 30, maxInstances: 8 }), 30 + 3)
  assert.is(budgetLimit({ total: 40, held: 16, own: 1, maxInstances: 16 }), 1 + 2)
  assert.is(budgetLimit({ total: 40, held: 40, own: 5, maxInstances: 16 }), 5, 'nothing free, nothing taken')
  assert.is(budgetLimit({ total: 40, held: 39, own: 5, maxInstances: 16 }), 6, 'one free: rounded up to one')
})

limit('with maxInstances, instances reading the same count at once pass the total by at most one each', () => {
  for (const instances of [2, 5, 16]) {
    for (const total of [instances, 40, 97]) {
      for (let held = instances; held <= total; held += 3) {
        // Every instance holds a part of `held` and reads the same count at the same moment.
        const owns = Array.from({ length: instances }, (_, i) => Math.floor(held / instances) + (i < held % instances ? 1 : 0))
        const sum = owns.reduce((all, own) => all + budgetLimit({ total, held, own, maxInstances: instances }), 0)
        assert.ok(sum <= total + instances, `${instances} instances, total ${total}, held ${held}: together ${sum}`)
        assert.ok(sum >= total, `the free budget is handed out: ${sum} of ${total}`)
      }
    }
  }
})

limit('treats a count below its own connections (a stale count) as its own', () => {
  assert.is(budgetLimit({ total: 50, held: 3, own: 10, claimFraction: 0.5 }), 30)
})

limit('refuses inputs that are missing, not integers or out of range, naming them', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ total: 90, held: 70, own: 30, maxInstances: 0 }, 'maxInstances'],
    [{ total: 90, held: 70, own: 30, maxInstances: null }, 'maxInstances'],
    [{ total: 90, held: 70, own: 30, claimFraction: Number.NaN }, 'claimFraction'],
    [{ total: '90', held: 70, own: 30 }, 'total'],
    [{ total: 90, held: -1, own: 30 }, 'held'],
    [{ total: 90, held: 70, own: 1.5 }, 'own'],
    [{ total: 90, held: 70, own: 30, opening: Symbol('x') }, 'opening'],
    [{ total: 90, own: 30 }, 'held'],
  ]
  for (const [input, option] of cases) {
    const error = throwsError(() => budgetLimit(input as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.match(error.message, 'Invalid options for budgetLimit')
  }
  // Other keys are left alone: a reading spread into the input is fine.
  assert.is(budgetLimit({ ...{ free: 20, atMillis: 5, limit: 40 }, total: 90, held: 70, own: 30 } as never), 40)
})

const budget = suite('SharedBudget')

budget('counts the service`s connections with one parameterized query on pg_stat_activity', async () => {
  const calls: { text: string; values: unknown[] }[] = []
  const query: BudgetQuery = async (text, values) => {
    calls.push({ text, values })
    return { rows: [{ held: 70 }] }
  }
  const clock = new ManualClock()
  const shared = createSharedBudget({ total: 90, applicationName: 'orders-api', query, clock })
  const reading = await shared.refresh(() => holding(30))
  assert.equal(calls, [{ text: BUDGET_QUERY, values: ['orders-api'] }])
  assert.match(BUDGET_QUERY, /pg_stat_get_activity\(NULL\)/)
  assert.match(BUDGET_QUERY, /application_name = \$1/)
  assert.equal({ held: reading.held, own: reading.own, opening: reading.opening, limit: reading.limit }, { held: 70, own: 30, opening: 0, limit: 40 })
  assert.is(shared.limit(35), 40)
  const busy = await shared.refresh(() => holding(30, 4))
  assert.equal({ own: busy.own, opening: busy.opening, limit: busy.limit }, { own: 30, opening: 4, limit: 34 + 8 })
})

budget('counts the connections a shrink kept open (parked) as its own, so a grow may take them back', async () => {
  const shared = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 90 }] }), clock: new ManualClock() })
  // 40 in the pool and 20 parked of the 90 the server counts: the budget is full, and all 60 are this pool's.
  const reading = await shared.refresh(() => ({ ...holding(40), parkedConnections: 20 }))
  assert.equal({ own: reading.own, opening: reading.opening, free: reading.free, limit: reading.limit }, { own: 60, opening: 0, free: 0, limit: 60 })
  // Over the budget, parked connections are the first to go back: the pool's share leaves them out.
  const over = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 100 }] }), clock: new ManualClock() })
  const reduced = await over.refresh(() => ({ ...holding(40), parkedConnections: 20 }))
  assert.equal({ own: reduced.own, limit: reduced.limit }, { own: 40, limit: 36 })
})

budget('takes a pg-like client, and a count given as a string', async () => {
  const client = { query: async () => ({ rows: [{ held: '12' }] }) }
  const shared = createSharedBudget({ total: 20, applicationName: 'svc', query: client, claimFraction: 1 })
  const reading = await shared.refresh(() => holding(2))
  assert.is(reading.held, 12)
  assert.is(reading.limit, 10)
})

budget('allows no growth (and forces no shrink) without a fresh reading', async () => {
  const clock = new ManualClock()
  const shared = createSharedBudget({ total: 90, applicationName: 'svc', query: async () => ({ rows: [{ held: 10 }] }), refreshMillis: 100, clock })
  assert.is(shared.steadyRefreshMillis, 400, '4 x refreshMillis')
  assert.is(shared.staleAfterMillis, 2000, '5 x steadyRefreshMillis')
  assert.is(shared.limit(7), 7, 'before the first reading')
  for (const bad of [Number.NaN, -1, 1.5, '7']) assert.is(throwsError(() => shared.limit(bad as number), InvalidOptionError).option, 'size')
  await shared.refresh(() => holding(10))
  assert.is(shared.limit(7), 50)
  clock.advance(2000)
  assert.is(shared.limit(7), 50)
  clock.advance(1)
  assert.is(shared.limit(7), 7, 'stale after staleAfterMillis')
})

budget('passes a failing query on to the caller and keeps the last reading', async () => {
  let fail = false
  const shared = createSharedBudget({
    total: 90,
    applicationName: 'svc',
    query: async () => {
      if (fail) throw new Error('connection refused')
      return { rows: [{ held: 10 }] }
    },
  })
  await shared.refresh(() => holding(10))
  fail = true
  const error = await rejects(shared.refresh(() => holding(10)), Error)
  assert.match(error.message, 'connection refused')
  assert.is(shared.reading?.limit, 50)
})

budget('a count with no row or no `held` column is refused, not read as none', async () => {
  for (const rows of [[], [{ count: 12 }], [{ held: null }]]) {
    const shared = createSharedBudget({ total: 90, applicationName: 'svc', query: async () => ({ rows }) })
    const error = await rejects(shared.refresh(() => holding(10)), TypeError)
    assert.match(error.message, '`held`')
    assert.is(shared.reading, undefined, JSON.stringify(rows))
  }
})

budget('a count below this pool`s own connections twice in a row (another application_name) is reported, and holds the pool at its size', async () => {
  let held = 0
  const clock = new ManualClock()
  const shared = createSharedBudget({ total: 80, applicationName: 'orders-api', query: async () => ({ rows: [{ held }] }), maxInstances: 8, clock })
  const pool = { ...holding(10), maxSize: 12, waitingRequests: 0 }
  const nextReading = (): Promise<BudgetReading> => {
    clock.advance(shared.staleAfterMillis)
    return shared.refresh(() => pool)
  }
  // Once proves nothing (a connection opened while the count ran is not listed yet), but bounds nothing either.
  const once = await nextReading()
  assert.is(once.limit, 12, 'held at its size: no growth toward the whole total, no shrink')
  const error = await rejects(nextReading(), Error)
  assert.match(error.message, 'counted 0 connection(s) on the server under that application_name, fewer than the 10 this pool holds open')
  assert.is(shared.limit(12), 12)
  await rejects(nextReading(), Error)
  held = 10
  const agreed = await nextReading()
  assert.is(agreed.limit, 10 + Math.ceil(70 / 8), 'grows again once the counts agree')
})

budget('a connection that finished opening while the count ran is no undercount', async () => {
  let open = 10
  const shared = createSharedBudget({
    total: 80,
    applicationName: 'orders-api',
    maxInstances: 8,
    // The server counted 10; by the time the answer is read the pool holds 11.
    query: async () => {
      open = 11
      return { rows: [{ held: 10 }] }
    },
  })
  for (let i = 0; i < 3; i++) {
    open = 10
    const reading = await shared.refresh(() => ({ ...holding(open), maxSize: 12, waitingRequests: 3 }))
    assert.is(reading.limit, 11 + Math.ceil(69 / 8))
  }
})

budget('rejects bad options naming the option', () => {
  const query: BudgetQuery = async () => ({ rows: [] })
  const total = throwsError(() => createSharedBudget({ total: 0, applicationName: 'svc', query }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(total.option, 'total')
  const name = throwsError(() => createSharedBudget({ total: 10, applicationName: '', query }), InvalidOptionError)
  assert.is(name.option, 'applicationName')
  // The server keeps 63 bytes of printable ASCII: any other name would count nothing, ever.
  for (const applicationName of ['x'.repeat(64), 'orders-\u00fc']) {
    const kept = throwsError(() => createSharedBudget({ total: 10, applicationName, query }), InvalidOptionError)
    assert.is(kept.option, 'applicationName')
    assert.match(kept.message, 'at most 63 printable ASCII characters')
  }
  assert.is(createSharedBudget({ total: 10, applicationName: 'x'.repeat(63), query }).applicationName, 'x'.repeat(63))
  const claim = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, claimFraction: 2 }), InvalidOptionError)
  assert.is(claim.option, 'claimFraction')
  const instances = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, maxInstances: 0 }), InvalidOptionError)
  assert.is(instances.option, 'maxInstances')
  const both = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, maxInstances: 4, claimFraction: 0.5 }), InvalidOptionError)
  assert.is(both.option, 'claimFraction')
  assert.match(both.message, /left out when `maxInstances` is given/)
  const stale = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, refreshMillis: 1000, staleAfterMillis: 100 }), InvalidOptionError)
  assert.is(stale.option, 'staleAfterMillis')
  assert.match(stale.message, 'expected `staleAfterMillis` to be a duration >= 2 x `refreshMillis` (2000), got `100`')
  // Between steady refreshes too: a reading older than staleAfterMillis would read as the pool's own size.
  const staleSteady = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, steadyRefreshMillis: 1000, staleAfterMillis: 600 }), InvalidOptionError)
  assert.is(staleSteady.option, 'staleAfterMillis')
  assert.match(staleSteady.message, 'expected `staleAfterMillis` to be a duration >= 2 x `steadyRefreshMillis` (2000), got `600`')
  // Given alone, it sets the steady refresh's default instead: two refreshes fit in it.
  assert.is(createSharedBudget({ total: 10, applicationName: 'svc', query, staleAfterMillis: 600 }).steadyRefreshMillis, 300)
  const steady = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, steadyRefreshMillis: 5 }), InvalidOptionError)
  assert.is(steady.option, 'steadyRefreshMillis')
  const faster = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query, refreshMillis: 500, steadyRefreshMillis: 400 }), InvalidOptionError)
  assert.is(faster.option, 'steadyRefreshMillis')
  assert.match(faster.message, /a duration >= `refreshMillis` \(500\)/)
  const noQuery = throwsError(() => createSharedBudget({ total: 10, applicationName: 'svc', query: 'SELECT 1' as unknown as BudgetQuery }), InvalidOptionError)
  assert.is(noQuery.option, 'query')
  assert.match(noQuery.message, /a query function or an object with a query\(\) method/)
})

limit.run()
budget.run()
