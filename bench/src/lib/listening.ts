// The one line a server script started by `spawnPinnedServer` prints once it accepts requests.
import type { AddressInfo } from 'node:net'

/** Prefix of the line `spawnPinnedServer` waits for on the child's stdout. */
export const LISTENING_PREFIX = 'LIFEGUARD_BENCH_LISTENING '

/**
 * Tells the parent bench process where this server listens. Call it from a server script once
 * `listen(0, '127.0.0.1')` has completed.
 *
 * @throws {Error} when the server is not listening on a TCP port
 * @example
 * const server = app.listen(0, '127.0.0.1', () => announceListening(server))
 */
export function announceListening(server: { address(): AddressInfo | string | null }): void {
  const address = server.address()
  if (address === null || typeof address === 'string') {
    throw new Error('Could not announce the server. It is not listening on a TCP port.')
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  process.stdout.write(`${LISTENING_PREFIX}http://${host}:${address.port}\n`)
}
