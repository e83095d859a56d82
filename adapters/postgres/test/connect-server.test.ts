import { systemClock } from '@lifeguard/core/adapter'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { connectorFor } from '../src/internal/connect-server.js'
import { resolveOptions } from '../src/internal/resolve-options.js'

const test = suite('connectorFor: an attempt given up as its connect settles')

// The window between the connect settling and the session check's abort listener being added: an
// `abort` event in it is never heard, so this signal reads aborted without firing one, as a real signal
// aborted in that window looks to the code that runs next.
function signalAbortedAfter(reads: number, reason: Error): AbortSignal {
  let left = reads
  return {
    get aborted() {
      return left-- <= 0
    },
    reason,
    addEventListener() {},
    removeEventListener() {},
    throwIfAborted() {},
  } as unknown as AbortSignal
}

for (const targetSessionAttrs of ['any', 'read-write'] as const) {
  test(`targetSessionAttrs '${targetSessionAttrs}': rejects with the attempt's reason and closes the connection it opened`, async () => {
    const { host, port, user, database, password } = pgConfig()
    const appName = uniqueAppName('connect-given-up')
    // Two hosts, so that the multi-host path runs even without a target.
    const settings = resolveOptions({ name: 'given-up', hosts: [{ host, port }, { host, port }], user, database, ...(password === undefined ? {} : { password }), applicationName: appName, targetSessionAttrs })
    const reason = new Error('attempt given up')
    // Read twice before the connect settles: once by the host loop, once by the connect itself.
    const connecting = connectorFor(settings, systemClock)(signalAbortedAfter(2, reason))
    await connecting.then(
      async (opened) => {
        await opened.client.end()
        assert.unreachable('a connection was handed over for an attempt already given up')
      },
      (error: unknown) => assert.is(error, reason),
    )
    await waitForConnectionCount(appName, 0)
  })
}

test.run()
