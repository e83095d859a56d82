import { connect } from 'node:net'
import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { request, sampleOrder } from './_helpers/http.js'
import { adminQuery, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// A client that closes the connection half-way through its body is not a failure of the service: no
// "unexpected error" line, no stack trace, on any of the three frameworks; the service keeps serving.

/** Sends the headers and half of a JSON body declared in full, then closes the socket once that is written. */
function cutOffPost(url: string, body: string): Promise<void> {
  const { hostname, port } = new URL(url)
  const bytes = Buffer.from(body)
  const head = `POST /orders HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    socket.once('error', reject)
    socket.once('close', () => resolve())
    socket.once('connect', () => socket.write(Buffer.concat([Buffer.from(head), bytes.subarray(0, bytes.length >> 1)]), () => socket.destroy()))
  })
}

for (const [framework, entry] of [['express', 'src/main.ts'], ['koa', 'src/koa.ts'], ['hono', 'src/hono.ts']] as const) {
  const schema = scratchName(`orders_abort_${framework}`)
  const appName = schema.replaceAll('_', '-')
  let service: ServiceProcess | undefined

  const ClientAbort = suite(`orders-api on ${framework}: a body cut off by the client`)

  ClientAbort.after(async () => {
    await service?.stop('SIGKILL')
    await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })

  ClientAbort('is neither logged as an unexpected error nor dumped as a stack trace, and the service keeps serving', async () => {
    service = await startService({ DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined }, { entry })
    const body = JSON.stringify({ ...sampleOrder, customer: 'x'.repeat(2_000) })
    for (let i = 0; i < 5; i++) await cutOffPost(service.url, body)
    const created = await request(`${service.url}/orders`, { method: 'POST', body: sampleOrder })
    assert.is(created.status, 201)

    // Everything the service printed, up to its exit: the aborted requests were handled long before.
    const exit = await service.stop('SIGTERM')
    assert.equal(exit, { code: 0, signal: null })
    const output = service.output()
    assert.not.match(output, 'failed (request')
    assert.not.match(output, /^\s+at /m)
    assert.is(await waitForConnectionCount(appName, 0), 0)
  })

  ClientAbort.run()
}
