import type { Server } from 'node:http'
import { loadConfig, type Config } from './config.js'
import { databaseStopTimeoutMillis, stopEmbeddedDatabasesAtOnce, stopAtOnceTimeoutMillis } from './database.js'
import { drain, listen, requestsInFlight } from './http-server.js'
import { keepRunningWithoutOutput, log, muteServiceEvents, startOrdersService, type OrdersService } from './service.js'
import { onShutdownSignal } from './shutdown.js'

/**
 * The life of the service, whatever the framework: start the database and pools (warm-up before
 * listening), listen, print how to try it, and on SIGTERM/SIGINT stop accepting, finish in-flight
 * requests, close the pools and stop the embedded database; a second signal stops it at once.
 * `createServer` is the only framework-specific part.
 */
export function runHttpService(framework: string, createServer: (service: OrdersService) => Server): void {
  keepRunningWithoutOutput()
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    log(`could not start: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
  // Registered before start-up begins, so a signal during start-up still closes what was opened.
  let stopping = false
  // Ends the start-up's database work (a migration waiting on a lock) when a signal comes during it.
  const startup = new AbortController()
  // The close of a service whose start-up a signal cut short: its failure is the shutdown's.
  let closedEarly: Promise<void> | undefined
  // A forced stop owns the output from its line on: a start-up it cut short says nothing more.
  let forced = false
  let server: Server | undefined
  onShutdownSignal(
    {
      async shutdown() {
        stopping = true
        startup.abort()
        const started = await ready.catch(() => undefined)
        if (started === undefined) return closedEarly
        started.service.startDraining()
        const cutOff = await drain(started.server, config.shutdownTimeoutMillis)
        // The pools are closed all the same; then a request cut off fails the shutdown as a step would.
        const failures: string[] = []
        if (cutOff > 0) failures.push(`${cutOff} request(s) still running after ${config.shutdownTimeoutMillis}ms were cut off`)
        await started.service.close().catch((error: unknown) => failures.push(error instanceof Error ? error.message : String(error)))
        if (failures.length > 0) throw new Error(failures.join('; '))
      },
      // The pools' connections and the requests end with the process; an embedded database would not.
      async force() {
        forced = true
        muteServiceEvents()
        await stopEmbeddedDatabasesAtOnce()
      },
      requestsInFlight: () => (server === undefined ? 0 : requestsInFlight(server)),
      // Room for the drain, the pools' close (their timeout, plus 5 s the registry allows for ending connections)
      // and the embedded database's stop.
      timeoutMillis: config.shutdownTimeoutMillis * 2 + 5_000 + databaseStopTimeoutMillis,
      forceTimeoutMillis: stopAtOnceTimeoutMillis,
    },
    log,
  )

  const ready = (async () => {
    const service = await startOrdersService(config, { signal: startup.signal })
    // A signal came while starting: close what was opened instead of starting to serve.
    if (stopping) {
      closedEarly = service.close()
      await closedEarly.catch(() => undefined)
      return undefined
    }
    try {
      const created = createServer(service)
      server = created
      return { service, server: created, url: await listen(created, config.port, config.host) }
    } catch (error) {
      await service.close().catch(() => undefined)
      throw error
    }
  })()

  ready.then(
    (started) => {
      if (started === undefined || stopping) return
      const { url, service } = started
      const base = url.toString().replace(/\/$/, '')
      log(`listening on ${base} (${framework}; PostgreSQL ${service.database.embedded ? 'embedded, ' : ''}at ${service.database.target})`)
      log(`try it:`)
      log(`  curl -s -X POST ${base}/orders -H 'content-type: application/json' -d '{"customer":"ada","items":[{"sku":"tea","quantity":2,"priceCents":450}]}'`)
      log(`  curl -s ${base}/orders/1    curl -s ${base}/health    curl -s ${base}/metrics/pools    curl -s ${base}/metrics`)
      log('stop with Ctrl-C (or SIGTERM)')
    },
    (error: unknown) => {
      if (forced) return
      // Asked to stop meanwhile: the start-up that failed was being given up anyway; the shutdown ends it.
      if (stopping) return log(`start-up ended early (${error instanceof Error ? error.message : String(error)})`)
      log(`could not start: ${error instanceof Error ? error.message : String(error)}`)
      if (error instanceof AggregateError) for (const cause of error.errors) log(`  ${cause instanceof Error ? cause.message : String(cause)}`)
      process.exit(1)
    },
  )
}
