import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { endClient } from '../src/internal/end-client.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'

const test = suite('endClient: ending a pooled connection')

test("asked to, it lets a statement still queued (a 'connect' listener's SET) finish before the connection ends", async () => {
  const appName = uniqueAppName('end-client-queued')
  const client = new pg.Client({ ...pgConfig(), application_name: appName })
  await client.connect()
  // Not awaited, as a listener's `client.query('SET ...')` is not: ended under it, it rejected unhandled.
  const queued = client.query("SELECT pg_sleep(0.05), set_config('search_path', 'public', false) AS path")
  await endClient(client, undefined, undefined, true)
  const { rows } = await queued
  assert.equal(rows.map((row: { path: string }) => row.path), ['public'])
  await waitForConnectionCount(appName, 0)
})

test('an idle connection ends at once', async () => {
  const appName = uniqueAppName('end-client-idle')
  const client = new pg.Client({ ...pgConfig(), application_name: appName })
  await client.connect()
  await endClient(client)
  await waitForConnectionCount(appName, 0)
})

test.run()
