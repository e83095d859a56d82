import { connect } from 'node:net'
import type { ServiceContainer } from '@lifeguard/core'
import type { ConformanceOptions, FrameworkDriver, RunningServer } from './driver.js'
import { createFixture, type Fixture } from './fixture.js'
import { conformanceRoutes, type RouteSignals } from './routes.js'
import { Signals } from './wait.js'

/** One server under test, with the container and signals behind it. */
export class Harness {
  readonly fixture: Fixture
  readonly signals: RouteSignals = { entered: new Signals(), gates: new Signals() }
  #running: RunningServer | undefined

  /** `setup` registers more services in the container (a database pool). */
  constructor(setup?: (container: ServiceContainer<any>) => void) {
    this.fixture = createFixture(setup)
  }

  get url(): string {
    return this.running.url
  }

  get running(): RunningServer {
    if (this.#running === undefined) throw new Error('The server is not started: call start() in a before hook.')
    return this.#running
  }

  async start(driver: FrameworkDriver, options: Omit<ConformanceOptions, 'container'> = {}): Promise<void> {
    this.#running = await driver.start({ ...options, container: this.fixture.container }, conformanceRoutes(this.fixture, this.signals))
  }

  /** Closes the server (every connection with it) and disposes the container. Once; later calls do nothing. */
  async stop(): Promise<void> {
    const running = this.#running
    this.#running = undefined
    if (running === undefined) return
    await running.close()
    await this.fixture.container.dispose()
  }

  /** GET a path, with an optional request id header. */
  get(path: string, init: { requestId?: string; header?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = {}
    if (init.requestId !== undefined) headers[init.header ?? 'x-request-id'] = init.requestId
    return fetch(`${this.url}${path}`, { headers, ...(init.signal === undefined ? {} : { signal: init.signal }) })
  }

  /**
   * Sends one request on a connection of its own (`Connection: close`) and returns every byte the server wrote
   * until it closed it, split at the end of the headers: what `fetch` would hide (a body after a HEAD response's
   * or a 204's headers) shows here.
   */
  async exchange(method: string, path: string, requestId: string): Promise<{ head: string; body: Buffer }> {
    const { hostname, port } = new URL(this.url)
    const socket = connect(Number(port), hostname)
    // A limit that only bounds a failing test (a server that never answers or never closes).
    socket.setTimeout(5000, () => socket.destroy(new Error(`Gave up waiting for the response to ${method} ${path}`)))
    // Written, not ended: a client that half-closes reads to Node's server as one that went away.
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`)
    const received: Buffer[] = []
    for await (const chunk of socket) received.push(chunk as Buffer)
    const all = Buffer.concat(received)
    const end = all.indexOf('\r\n\r\n')
    if (end < 0) throw new Error(`No complete response to ${method} ${path}: ${JSON.stringify(all.toString('latin1'))}`)
    return { head: all.subarray(0, end).toString('latin1'), body: all.subarray(end + 4) }
  }
}
