import { randomUUID } from 'node:crypto'

// A caller's id is trusted only when it cannot smuggle anything into logs or headers.
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The caller's request id when it is sane (1-128 of `[A-Za-z0-9._:-]`), else a new random UUID.
 *
 * @example
 * const requestId = requestIdFrom(req.headers['x-request-id'])
 */
export function requestIdFrom(value: string | string[] | undefined | null): string {
  return typeof value === 'string' && saneRequestId.test(value) ? value : randomUUID()
}
