import { UnrecoverableError } from 'bullmq'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { billingJobs, jobKey } from '../src/billing-jobs.js'

const Billing = suite('billing jobs')

Billing('a job is keyed by its queue, id and creation time: an old id in a new job is no retry', () => {
  const job = { queueName: 'billing', id: '1', timestamp: 1_700_000_000_000 }
  assert.is(jobKey(job), jobKey({ ...job }), 'a retry of the same job')
  assert.is.not(jobKey(job), jobKey({ ...job, timestamp: job.timestamp + 1 }), 'the counter started again (Redis lost its data)')
  assert.is.not(jobKey(job), jobKey({ ...job, queueName: 'billing-eu' }), 'another queue')
  // An id the producer chose dedupes by itself: the same job added again is the same payment.
  const chosen = { queueName: 'billing', id: 'order-42-charge', timestamp: 1 }
  assert.is(jobKey(chosen), jobKey({ ...chosen, timestamp: 2 }))
})

Billing('data the payments table can never take fails at once, unretried', async () => {
  const { charge } = billingJobs('job_worker')
  const job = { queueName: 'billing', id: '9', timestamp: 1 } as never
  for (const data of [null, { orderId: '', amountCents: 5 }, { orderId: 'a\u0000b', amountCents: 5 }, { orderId: 'x\ud800', amountCents: 5 }, { orderId: '\udc00x', amountCents: 5 }, { orderId: 'x'.repeat(201), amountCents: 5 }, { orderId: 'o', amountCents: 1e19 }, { orderId: 'o', amountCents: 0 }, { orderId: 'o', amountCents: 1.5 }]) {
    // The check comes before any query: no database is touched.
    const outcome = await Promise.resolve()
      .then(() => charge!(data, {} as never, job))
      .then(() => undefined, (error: unknown) => error)
    assert.instance(outcome, UnrecoverableError, JSON.stringify(data))
  }
})

Billing.run()
