import { randomUUID } from 'node:crypto'

// A caller's id is trusted only when it cannot smuggle anything into logs or headers.
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

// The generator's ids keep a random UUID's first 28 characters and count in the last 8 hex digits.
const baseLength = 28
const idsPerBase = 2 ** 32
// Two hex digits per byte value: an id is its block's prefix plus one of these, with no number formatting.
const hexByte = Array.from({ length: 256 }, (_, value) => value.toString(16).padStart(2, '0'))

/**
 * Makes request ids for one middleware: each shaped like a version 4 UUID (`8-4-4-4-12` hex digits, the
 * version and variant digits intact) at a tenth of `randomUUID()`'s cost, which was a third of what the
 * middleware cost a request. A random base from `randomUUID()` keeps its first 28 characters; the last 8
 * hex digits count, and a new base is drawn every 2^32 ids. One generator never repeats an id; two
 * generators (two processes) share a base with a chance of about 2^-90. Ids are unique, not secret:
 * within a process they count up.
 *
 * @example
 * const newRequestId = requestIdGenerator()
 * newRequestId() // '3f2a9c1e-7b4d-4e8a-9c0f-5d1e00000000', then '...-5d1e00000001'
 */
export function requestIdGenerator(): () => string {
  let base = ''
  let count = idsPerBase
  // The id's first 34 characters, the same for 256 ids in a row: each id is one concatenation.
  let prefix = ''
  return function newRequestId(): string {
    if (count === idsPerBase) {
      base = randomUUID().slice(0, baseLength)
      count = 0
    }
    const low = count % 256
    if (low === 0) prefix = base + hexByte[(count >>> 24) & 255]! + hexByte[(count >>> 16) & 255]! + hexByte[(count >>> 8) & 255]!
    count++
    return prefix + hexByte[low]!
  }
}

/**
 * The caller's request id when it is sane (1-128 of `[A-Za-z0-9._:-]`), else a new one from
 * `newRequestId` (default: a random UUID).
 *
 * @example
 * const requestId = requestIdFrom(req.headers['x-request-id'], settings.newRequestId)
 */
export function requestIdFrom(value: string | string[] | undefined | null, newRequestId: () => string = randomUUID): string {
  return typeof value === 'string' && saneRequestId.test(value) ? value : newRequestId()
}
