import type { MongoClient } from 'mongodb'
import { connectInFlight } from './driver-internals.js'

/**
 * Closes the topology a connect still under way builds after the client closed. A connect awaiting an SRV
 * lookup or a TLS file read has no topology yet, so `client.close()` finds nothing to close and returns; the
 * connect then builds one that nothing closes, whose monitors keep the process alive. A connect that fails
 * closes what it built itself.
 *
 * @returns `undefined` when no connect is under way, else a promise that never rejects and resolves once the
 *   late topology, if any, is closed
 */
export function closeLateTopology(client: MongoClient): Promise<void> | undefined {
  const connecting = connectInFlight(client)
  if (connecting === undefined) return undefined
  return connecting.then(
    // The pool is closed by now: a failure of this second close has no one left to report to.
    () => client.close().catch(() => undefined),
    () => undefined,
  )
}
