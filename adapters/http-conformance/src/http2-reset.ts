import { once } from 'node:events'
import { connect, constants, type Http2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { createServiceContainer, type OperationContext, type ServiceContainer } from '@lifeguard/core'

/** A container whose scoped `held` service records its disposal in `seen`, and what a handler records there. */
export interface ResetProbe {
  container: ServiceContainer<any>
  /** In order: `aborted` (the signal), `handler done, disposed: …`, `disposed`. */
  seen: string[]
  /** The handler calls it once it holds `held` and listens to the signal. */
  entered: () => void
}

/** A fresh probe for one HTTP/2 reset test. */
export function resetProbe(): ResetProbe & { started: Promise<void> } {
  const seen: string[] = []
  let entered!: () => void
  const started = new Promise<void>((resolve) => (entered = resolve))
  const container = createServiceContainer().scoped('held', () => ({}), { dispose: () => void seen.push('disposed') })
  return { container, seen, entered, started }
}

/**
 * Opens an HTTP/2 stream to `port` (h2c), waits for the handler to start, resets the stream as a client that
 * goes away does (`NGHTTP2_CANCEL`), and waits until the scope was disposed. The limit only bounds a failing
 * test.
 */
export async function resetDuringHandler(port: number, probe: ResetProbe & { started: Promise<void> }): Promise<void> {
  const client = connect(`http://127.0.0.1:${port}`)
  client.on('error', () => undefined)
  try {
    const stream = client.request({ ':path': '/' })
    stream.on('error', () => undefined)
    await probe.started
    stream.close(constants.NGHTTP2_CANCEL)
    for (let i = 0; i < 1000 && !probe.seen.includes('disposed'); i++) await delay(5)
  } finally {
    client.close()
  }
}

/**
 * What a reset test's handler does: holds `held`, records the abort, works on 10 ms past it (the scope must
 * not be disposed under it), and records whether its scope was still open. `entered` is called unless the
 * test calls it earlier itself (`false`).
 */
export async function outliveTheReset(context: OperationContext, probe: ResetProbe, { entered = true } = {}): Promise<void> {
  context.get('held')
  context.signal.addEventListener('abort', () => void probe.seen.push('aborted'))
  if (entered) probe.entered()
  await Promise.race([once(context.signal, 'abort'), delay(5_000)])
  await delay(10)
  probe.seen.push(`handler done, disposed: ${context.disposed}`)
}

/** `resetDuringHandler` against `server` once it listens (on 127.0.0.1), which is closed after, whatever happened. */
export async function resetOn(server: Http2Server, probe: ResetProbe & { started: Promise<void> }): Promise<void> {
  if (!server.listening) await once(server, 'listening')
  try {
    await resetDuringHandler((server.address() as AddressInfo).port, probe)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
}
