import { Readable } from 'node:stream'
import { inspect } from 'node:util'
import { AbstractCursor, Admin, ChangeStream, Collection, Db, OrderedBulkOperation, UnorderedBulkOperation } from 'mongodb'
import type { Admit } from './gate.js'
import { redactChangeStreamErrors, redactStreamErrors, type Redact } from './redacting-streams.js'

// Driver objects whose async methods talk to the server. A change stream and a cursor's Node stream are not
// gated (a change stream holds a long-polling getMore) but their errors are redacted; anything else a method
// returns (a session, a plain result) is handed back as is.
const gatedClasses: ReadonlyArray<abstract new (...args: never[]) => object> = [Db, Collection, Admin, AbstractCursor, OrderedBulkOperation, UnorderedBulkOperation]

// Clean-up must never wait for a slot: a cursor closed in `finally` while the pool is full would stall.
const ungated = new Set<PropertyKey>(['close', Symbol.asyncDispose])
// A cursor's steps that read on from where it is: refused a slot, they close a cursor the server holds open.
const readingSteps = new Set<PropertyKey>(['next', 'hasNext', 'toArray', 'forEach'])
// Cursors closed that way, with the refusal their later steps get.
const closedByRefusal = new WeakMap<AbstractCursor, unknown>()
// The close a refusal started in the background, per cursor: a later close (a handle's dispose) waits for it.
// Closed again instead, the cursor's implicit session would end before the killCursors under way got a
// connection, and the driver would drop it (expired session): the server cursor left open for its timeout.
const closingAfterRefusal = new WeakMap<object, Promise<void>>()

/**
 * Closes a cursor or change stream left open (ungated: clean-up never waits for a slot), or waits for the close
 * a refused step started. Never rejects: a cursor already gone, or a server unreachable, leaves it to the
 * server's timeout.
 */
export async function closeCursorQuietly(cursor: AbstractCursor | ChangeStream): Promise<void> {
  const started = closingAfterRefusal.get(cursor)
  if (started !== undefined) return started
  try {
    await cursor.close()
  } catch {
    // Already gone, or the server unreachable: the server times it out.
  }
}

// A cursor that has fetched its first batch and is not exhausted: the server keeps it (and its session) open.
function hasServerCursor(cursor: AbstractCursor): boolean {
  const id = cursor.id
  return !cursor.closed && id !== undefined && id !== null && !id.isZero()
}

function isGateable(value: unknown): value is object {
  return typeof value === 'object' && value !== null && gatedClasses.some((type) => value instanceof type)
}

/**
 * Told of every cursor and change stream a gated object hands out (a handle closes the ones left open when it
 * is disposed).
 */
export type CursorOpened = (cursor: AbstractCursor | ChangeStream) => void

function wrapResult(value: unknown, admit: Admit, redact: Redact, opened: CursorOpened | undefined): unknown {
  if (isGateable(value)) {
    if (opened !== undefined && value instanceof AbstractCursor) opened(value)
    return gated(value, admit, redact, opened)
  }
  if (value instanceof ChangeStream) {
    opened?.(value)
    return redactChangeStreamErrors(value, redact)
  }
  if (value instanceof Readable) return redactStreamErrors(value, redact)
  if (Array.isArray(value) && value.some(isGateable)) return value.map((item) => wrapResult(item, admit, redact, opened))
  return value
}

/**
 * A proxy of a driver `Db`, `Collection`, `Admin`, cursor or bulk operation whose server calls go through
 * `admit`. Methods run on the real object, so the driver's internals never see the proxy; builder methods
 * that return the object (`sort`, `limit`, ...) return the proxy; `Db`, `Collection` and cursors they return
 * are gated the same way. Cursors take a slot only for steps that may fetch a batch, not for buffered documents.
 * Errors of the change streams and Node streams they return are passed through `redact` (gated calls' errors
 * are redacted by `admit`). `opened` is told of every cursor and change stream handed out, also by the
 * objects returned.
 */
export function gated<T extends object>(target: T, admit: Admit, redact: Redact, opened?: CursorOpened): T {
  const cache = new Map<PropertyKey, { source: unknown; wrapped: unknown }>()
  // The driver's objects hold their client, whose options hold the connection string: `console.log` of a
  // collection printed the password. `util.inspect` looks through a proxy at its target, so the target shows
  // what it is and where, and nothing it holds.
  if (!Object.hasOwn(target, inspect.custom)) Object.defineProperty(target, inspect.custom, { value: () => summary(target), configurable: true })
  const proxy: T = new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object)
      if (typeof value !== 'function' || property === 'constructor') return value
      const cached = cache.get(property)
      if (cached !== undefined && cached.source === value) return cached.wrapped
      const wrapped = wrapMethod(object, proxy, property, value as (...args: unknown[]) => unknown, admit, redact, opened)
      cache.set(property, { source: value, wrapped })
      return wrapped
    },
  })
  return proxy
}

function wrapMethod(object: object, proxy: object, property: PropertyKey, method: (...args: unknown[]) => unknown, admit: Admit, redact: Redact, opened: CursorOpened | undefined): unknown {
  const kind = (method as { constructor?: { name?: string } }).constructor?.name
  if (kind === 'AsyncFunction' && !ungated.has(property)) {
    // Steps that may be served from the cursor's buffer.
    const buffering = object instanceof AbstractCursor && (property === 'next' || property === 'tryNext' || property === 'hasNext') ? object : undefined
    // Steps that read on (not `tryNext`, a tailable cursor's poll, whose tail a close would lose; not `explain` or
    // `count`, commands of their own).
    const refusedCursor = object instanceof AbstractCursor && readingSteps.has(property) ? object : undefined
    return function gatedCall(...args: unknown[]): Promise<unknown> {
      // Closed by a refused step: the documents it had not read are lost, and the driver would answer as if all
      // were read (`hasNext()` false). Every later step gets that refusal instead.
      const refusal = refusedCursor === undefined ? undefined : closedByRefusal.get(refusedCursor)
      if (refusal !== undefined) return Promise.reject(refusal)
      // A document already in the cursor's buffer is served without a round trip, so without a slot.
      if (buffering !== undefined && buffering.bufferedCount() > 0) return method.apply(object, args) as Promise<unknown>
      let ran = false
      const admitted = admit(() => {
        ran = true
        return method.apply(object, args) as Promise<unknown>
      }).then((result) => wrapResult(result, admit, redact, opened))
      if (refusedCursor === undefined) return admitted
      // A cursor step refused a slot (timeout, abort, a released lease) before the driver ran it: the cursor is
      // closed, and its server cursor with it, as a refused `for await` step does; it would stay open until
      // the server timed it out.
      return admitted.catch((error: unknown) => {
        // Only one the server holds a cursor for: closed before its first batch, the driver would answer a retry
        // with no documents at all.
        if (!ran && hasServerCursor(refusedCursor)) {
          closedByRefusal.set(refusedCursor, error)
          // Started, not awaited: the driver marks the cursor closed and killed at once, and its killCursors
          // waits out server selection (30 s by default) while the server is unreachable, which would hold the
          // refusal back that long.
          closingAfterRefusal.set(refusedCursor, refusedCursor.close().catch(() => undefined))
        }
        throw error
      })
    }
  }
  if (kind === 'AsyncGeneratorFunction') {
    return function gatedIterator(...args: unknown[]): AsyncGenerator<unknown> {
      // Closed by a refused step: iterated again, the driver would end at once, as if every document were read.
      const refusal = object instanceof AbstractCursor ? closedByRefusal.get(object) : undefined
      if (refusal !== undefined) return refusedSteps(refusal)
      return gatedSteps(method.apply(object, args) as AsyncGenerator<unknown>, object, admit)
    }
  }
  // Rewound, a cursor a refused step closed runs its query again: the refusal is over, and the cursor is
  // followed again by its handle or lease (its close had them let go of it).
  if (property === 'rewind' && object instanceof AbstractCursor) {
    return function rewound(...args: unknown[]): unknown {
      const refused = closedByRefusal.delete(object)
      closingAfterRefusal.delete(object)
      const result = method.apply(object, args)
      if (refused) opened?.(object)
      return result
    }
  }
  return function passThrough(...args: unknown[]): unknown {
    const result = method.apply(object, args)
    return result === object ? proxy : wrapResult(result, admit, redact, opened)
  }
}

// `for await` over a cursor: each step that may fetch a batch takes a slot for that step only, so the loop
// body runs outside it and may itself use the pool without deadlocking a full one.
function gatedSteps(iterator: AsyncGenerator<unknown>, object: object, admit: Admit): AsyncGenerator<unknown> {
  const buffered = () => object instanceof AbstractCursor && object.bufferedCount() > 0
  const step = (args: [] | [unknown]): Promise<IteratorResult<unknown>> => {
    let ran = false
    return admit(() => {
      ran = true
      return iterator.next(...args)
    }).catch((error: unknown) => {
      // Refused before the driver's step ran (timeout, abort, exhaustion): `for await` calls no `return()`
      // after a failed `next()`, so the server cursor and its session would stay open until the pool closes.
      // Started, not awaited, as above: the refusal must not wait out server selection during an outage. A cursor
      // the server holds nothing for yet (a first step refused) is left as it was, as `next()` leaves it: closed,
      // it would answer a retry with no documents at all. One closed here answers every later step with this
      // refusal: its unread documents are gone.
      if (!ran && !(object instanceof AbstractCursor && !hasServerCursor(object))) {
        if (object instanceof AbstractCursor) closedByRefusal.set(object, error)
        closingAfterRefusal.set(object, closeQuietly(iterator, object))
      }
      throw error
    })
  }
  const steps: AsyncGenerator<unknown> = {
    next: (...args: [] | [unknown]) => (buffered() ? iterator.next(...args) : step(args)),
    return: (value?: unknown) => iterator.return(value),
    throw: (error?: unknown) => iterator.throw(error),
    [Symbol.asyncIterator]() {
      return steps
    },
    [Symbol.asyncDispose]: () => iterator.return(undefined).then(() => undefined),
  }
  return steps
}

// The steps of a cursor a refused step closed: the first one fails with that refusal.
async function* refusedSteps(refusal: unknown): AsyncGenerator<unknown> {
  throw refusal
}

// Clean-up outside admission, like `cursor.close()`: the generator's `finally` closes a cursor it started, and
// `close()` one it never did; a failure there must not hide the admission error.
async function closeQuietly(iterator: AsyncGenerator<unknown>, object: object): Promise<void> {
  try {
    await iterator.return(undefined)
    if (object instanceof AbstractCursor) await object.close()
  } catch {
    // The cursor is already gone or unreachable; the server times it out.
  }
}

// `Collection { namespace: 'shop.orders' }`: the class and the namespace, nothing the client holds.
function summary(object: object): string {
  const namespace = (object as { namespace?: unknown }).namespace
  const where = typeof namespace === 'string' ? namespace : namespace === undefined || namespace === null ? undefined : String(namespace)
  return `${object.constructor.name} { ${where === undefined ? '' : `namespace: '${where}' `}}`.replace('{  }', '{}')
}
