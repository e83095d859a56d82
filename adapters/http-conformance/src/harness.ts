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

  async stop(): Promise<void> {
    await this.#running?.close()
    await this.fixture.container.dispose()
  }

  /** GET a path, with an optional request id header. */
  get(path: string, init: { requestId?: string; header?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = {}
    if (init.requestId !== undefined) headers[init.header ?? 'x-request-id'] = init.requestId
    return fetch(`${this.url}${path}`, { headers, ...(init.signal === undefined ? {} : { signal: init.signal }) })
  }
}
