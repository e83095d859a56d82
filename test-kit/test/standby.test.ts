import { existsSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startPrivateCluster, startStandby, type PrivateCluster } from '../src/index.js'

const test = suite<{ primary: PrivateCluster; standby: PrivateCluster }>('a streaming standby of a private cluster')

test.before(async (context) => {
  context.primary = await startPrivateCluster()
  context.standby = await startStandby(context.primary)
})

test.after(async ({ primary, standby }) => {
  await standby?.destroy()
  await primary?.destroy()
})

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('runs on a port of its own, in recovery, and replays what the primary writes', async ({ primary, standby }) => {
  assert.is.not(standby.port, primary.port)
  assert.is((await standby.sql('SELECT pg_is_in_recovery()')).trim(), 't')
  assert.is((await primary.sql('SELECT pg_is_in_recovery()')).trim(), 'f')
  await primary.sql('CREATE TABLE replicated (n int); INSERT INTO replicated VALUES (42)')
  await until('the row to replicate', async () => (await standby.sql("SELECT to_regclass('replicated') IS NOT NULL AND EXISTS (SELECT 1 FROM replicated)").catch(() => 'f')).trim() === 't')
  const refused = await standby.sql('INSERT INTO replicated VALUES (1)').then(() => '', (error: Error) => error.message)
  assert.match(refused, 'read-only transaction')
})

test('promote() makes it a primary that takes writes after the old one stops', async ({ primary, standby }) => {
  await primary.stop('fast')
  await standby.promote()
  assert.is((await standby.sql('SELECT pg_is_in_recovery()')).trim(), 'f')
  await standby.sql('INSERT INTO replicated VALUES (43)')
  assert.is((await standby.sql('SELECT count(*) FROM replicated')).trim(), '2')
})

test('destroy removes its folder', async ({ standby }) => {
  const folder = standby.dataDir
  await standby.destroy()
  assert.not.ok(existsSync(folder))
})

test.run()
