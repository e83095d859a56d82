import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServiceContainer, type OperationContext, type ServiceContainer } from '@lifeguard/core'
import type { RunningServer } from './driver.js'
import { waitFor } from './wait.js'

/**
 * A started Node server (Express's or Koa's `app.listen(0, '127.0.0.1')`) as a `RunningServer`; `close()`
 * also ends keep-alive connections.
 */
export async function runningServer(server: Server): Promise<RunningServer> {
  if (!server.listening) await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}

/** A container whose scoped `marker` records the operation's name when its scope is disposed. */
export function namingContainer(): { container: ServiceContainer<any>; disposed: string[] } {
  const disposed: string[] = []
  const container = createServiceContainer().scoped('marker', (r) => r.resolve('operationContext') as OperationContext, {
    dispose: (context) => void disposed.push(context.operation),
  })
  return { container, disposed }
}

/**
 * GETs `path` from a server whose handler answers `{ operation }` and resolves `marker`: the name the handler
 * saw, and the name at disposal. Closes the server.
 */
export async function operationNames(running: RunningServer, path: string, disposed: string[]): Promise<{ inHandler: string; atDispose: string | undefined }> {
  try {
    const response = await fetch(`${running.url}${path}`)
    const inHandler = ((await response.json()) as { operation: string }).operation
    await waitFor('the scope disposed', () => disposed.length > 0)
    return { inHandler, atDispose: disposed.pop() }
  } finally {
    await running.close()
  }
}
