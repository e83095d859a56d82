import { randomUUID } from 'node:crypto'

// A caller's id is trusted only when it cannot smuggle anything into logs or headers.
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's request id when it is sane (1-128 of `[A-Za-z0-9._:-]`), else a new random UUID. */
export function requestIdFrom(value: string | string[] | undefined): string {
  return typeof value === 'string' && value.length <= 128 && saneRequestId.test(value) ? value : randomUUID()
}
