import { existsSync } from 'node:fs'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startPrivateCluster, type PrivateCluster } from '../src/index.js'

const test = suite<{ cluster: PrivateCluster }>('a private PostgreSQL cluster')

test.before(async (context) => {
  context.cluster = await startPrivateCluster({ maxConnections: 12 })
})

test.after(async ({ cluster }) => {
  await cluster?.destroy()
})

test('starts on a port of its own with the settings asked for', async ({ cluster }) => {
  assert.is.not(cluster.port, 5432)
  assert.is((await cluster.sql('SHOW max_connections')).trim(), '12')
  const client = new pg.Client(cluster.connection)
  await client.connect()
  const { rows } = await client.query<{ port: number }>("SELECT current_setting('port')::int AS port")
  assert.is(rows[0]?.port, cluster.port)
  await client.end()
})

test('restart disconnects clients with 57P01 and comes back on the same port', async ({ cluster }) => {
  const client = new pg.Client(cluster.connection)
  await client.connect()
  // pg reports the server's 57P01 first, then the closed socket: listen for both.
  const lost = new Promise<Error>((resolve) => client.on('error', resolve))
  await cluster.restart('fast')
  const error = (await lost) as Error & { code?: string }
  assert.is(error.code, '57P01')
  assert.ok(await cluster.isReady())
  await client.end().catch(() => undefined)
})

test('stop and start, and kill, are real', async ({ cluster }) => {
  await cluster.stop()
  assert.not.ok(await cluster.isReady())
  await cluster.start()
  assert.ok(await cluster.isReady())
  await cluster.kill()
  assert.not.ok(await cluster.isReady())
  await cluster.start()
  assert.ok(await cluster.isReady())
})

test('destroy stops it and removes its folder', async () => {
  const other = await startPrivateCluster()
  assert.ok(existsSync(other.dataDir))
  await other.destroy()
  assert.not.ok(existsSync(other.dataDir))
  assert.not.ok(await other.isReady())
  await other.destroy()
})

test.run()
