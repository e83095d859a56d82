import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createSharedBudget, type BudgetQuery, type OwnConnections } from '../src/index.js'
import { ManualClock } from './_helpers/manual-clock.js'

/** A pool snapshot as `getPoolMetrics()` gives it: `open` connections, `waiting` requests, size `maxSize`. */
function pool(open: number, waiting = 0, maxSize = open): OwnConnections {
  return { totalConnections: open, activeConnections: open, idleConnections: 0, waitingRequests: waiting, maxSize }
}

/** A budget of 40 for 16 instances (a fair share of 2.5) over a server that reports `server.held`. */
function budgetOver(server: { held: number; reads: number }) {
  const clock = new ManualClock()
  const query: BudgetQuery = async () => {
    server.reads++
    return { rows: [{ held: server.held }] }
  }
  const budget = createSharedBudget({ total: 40, maxInstances: 16, applicationName: 'svc', query, clock })
  return { budget, clock }
}

const schedule = suite('when a shared budget reads the count')

schedule('a pool short of connections reads at every offer while the budget has room', async () => {
  const server = { held: 20, reads: 0 }
  const { budget, clock } = budgetOver(server)
  assert.equal([budget.refreshMillis, budget.steadyRefreshMillis, budget.staleAfterMillis], [250, 1000, 5000], 'the defaults')
  const short = () => pool(2, 30, 2)
  await budget.refresh(short)
  for (let offer = 1; offer <= 3; offer++) {
    clock.advance(250)
    const reading = await budget.refresh(short)
    assert.is(server.reads, 1 + offer)
    assert.is(reading.atMillis, clock.now())
  }
})

schedule('a short pool reads every steadyRefreshMillis while the budget is full', async () => {
  const server = { held: 40, reads: 0 }
  const { budget, clock } = budgetOver(server)
  const short = () => pool(3, 30, 3)
  const first = await budget.refresh(short)
  assert.is(first.free, 0)
  for (let offer = 1; offer <= 3; offer++) {
    clock.advance(250)
    assert.is(await budget.refresh(short), first, 'the last reading, none being due')
  }
  assert.is(server.reads, 1)
  clock.advance(250)
  await budget.refresh(short)
  assert.is(server.reads, 2)
})

schedule('a pool holding more than its fair share reads every steadyRefreshMillis, in case it must give back', async () => {
  const server = { held: 30, reads: 0 }
  const { budget, clock } = budgetOver(server)
  const big = () => pool(6, 0, 10)
  await budget.refresh(big)
  clock.advance(750)
  await budget.refresh(big)
  assert.is(server.reads, 1)
  clock.advance(250)
  await budget.refresh(big)
  assert.is(server.reads, 2)
})

schedule('a small pool with nothing waiting reads only to keep its reading fresh, and at once when it becomes short', async () => {
  const server = { held: 30, reads: 0 }
  const { budget, clock } = budgetOver(server)
  const calm = () => pool(1, 0, 2)
  await budget.refresh(calm)
  clock.advance(4750)
  await budget.refresh(calm)
  assert.is(server.reads, 1, 'not before staleAfterMillis')
  clock.advance(250)
  await budget.refresh(calm)
  assert.is(server.reads, 2)
  clock.advance(250)
  await budget.refresh(() => pool(2, 5, 2))
  assert.is(server.reads, 3, 'short, and the last reading left room')
})

schedule('an offer half an interval early counts as due, so timer jitter does not cost a whole offer', async () => {
  const server = { held: 30, reads: 0 }
  const { budget, clock } = budgetOver(server)
  const big = () => pool(6, 0, 10)
  await budget.refresh(big)
  clock.advance(874)
  await budget.refresh(big)
  assert.is(server.reads, 1)
  clock.advance(1)
  await budget.refresh(big)
  assert.is(server.reads, 2)
})

schedule('a snapshot without waitingRequests and maxSize reads at every call', async () => {
  const server = { held: 30, reads: 0 }
  const { budget } = budgetOver(server)
  const plain = () => ({ totalConnections: 1, activeConnections: 1, idleConnections: 0 })
  await budget.refresh(plain)
  await budget.refresh(plain)
  assert.is(server.reads, 2)
})

schedule.run()
