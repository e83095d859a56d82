import { createServer, type AddressInfo } from 'node:net'
import { closedPort } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { waitForRedis } from '../src/redis.js'

const WaitForRedis = suite('waitForRedis')

/** Timers that keep the process alive (unref'd ones are not listed). */
const heldTimers = (): number => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length

WaitForRedis('a refused attempt leaves no timer holding the process', async () => {
  const before = heldTimers()
  const port = await closedPort()
  const failed = await waitForRedis(`redis://127.0.0.1:${port}`, { attempts: 1 }).then(() => undefined, (error: unknown) => error)
  assert.instance(failed, Error)
  assert.match((failed as Error).message, 'ECONNREFUSED')
  await new Promise((resolve) => setImmediate(resolve))
  assert.is(heldTimers(), before, 'ioredis would wait 2 s for a close that had come already')
})

WaitForRedis('an attempt that gets no answer is dropped at once, leaving no timer holding the process', async () => {
  const silent = createServer(() => undefined)
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  try {
    const before = heldTimers()
    const { port } = silent.address() as AddressInfo
    const failed = await waitForRedis(`redis://127.0.0.1:${port}`, { attempts: 1, attemptTimeoutMillis: 100 }).then(() => undefined, (error: unknown) => error)
    assert.match((failed as Error).message, 'ETIMEDOUT')
    // The probe's socket is destroyed from timers of 0 ms: a few turns of the timers, not ioredis's 2 s.
    for (let turn = 0; turn < 5 && heldTimers() > before; turn++) await new Promise((resolve) => setTimeout(resolve, 0))
    assert.is(heldTimers(), before)
  } finally {
    silent.close()
  }
})

WaitForRedis('a shutdown during an attempt that gets no answer ends the wait at once, with the signal\'s reason', async () => {
  const silent = createServer(() => undefined)
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = silent.address() as AddressInfo
    const stopping = new AbortController()
    const logged: string[] = []
    // An attempt timeout far beyond the test's own hang guard: only the signal can end it in time.
    const waiting = waitForRedis(`redis://127.0.0.1:${port}`, { attempts: 3, attemptTimeoutMillis: 600_000, signal: stopping.signal, log: (line) => void logged.push(line) })
    const outcome = waiting.then(() => 'answered', (error: unknown) => error)
    await new Promise((resolve) => setImmediate(resolve))
    stopping.abort(new Error('SIGTERM received'))
    let guard: NodeJS.Timeout | undefined
    const result = await Promise.race([outcome, new Promise((resolve) => (guard = setTimeout(() => resolve('still waiting'), 30_000)))])
    clearTimeout(guard)
    assert.is((result as Error).message, 'SIGTERM received')
    assert.equal(logged, [], 'no line about the attempt the shutdown cut short')
  } finally {
    silent.close()
  }
})

WaitForRedis.run()
