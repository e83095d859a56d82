type Read = ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>

/** What `readAhead` found at the start of a body. */
export interface BodyStart {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>
  /** The chunks read so far, in order. */
  readonly chunks: Uint8Array[]
  /** True when the body ended within them: `chunks` is all of it. */
  readonly ended: boolean
  /** A read not answered yet (a body still being produced), or that failed: the next one to take. */
  readonly pending: Read | undefined
}

// Two reads hold a body made whole (`c.json()`, `c.text()`: its bytes, then its end), as they do for
// @hono/node-server, which reads a response ahead the same way.
const READ_AHEAD = 2

/**
 * Reads the start of `body` without waiting for it to be produced: each read gets a few turns of the microtask
 * queue, enough for a body held in memory, and none for a producer that awaits anything (a stream of events
 * waiting for its next one is not held up). Never rejects for a failed read, which is left `pending` for the
 * copy to pass on (only for a body already locked, whose reader cannot be taken).
 */
export async function readAhead(body: ReadableStream<Uint8Array>): Promise<BodyStart> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let pending: Read | undefined
  for (let reads = 0; reads < READ_AHEAD; reads++) {
    pending = reader.read()
    const read = await soon(pending)
    if (read === undefined) return { reader, chunks, ended: false, pending }
    if (read.done) return { reader, chunks, ended: true, pending: undefined }
    chunks.push(read.value)
    // Anything but bytes (a stream of strings) is passed on as it came, for the runtime to judge.
    if (!((read.value as unknown) instanceof Uint8Array)) return { reader, chunks, ended: false, pending: undefined }
  }
  return { reader, chunks, ended: false, pending: undefined }
}

// Turns of the microtask queue a read gets: a body in memory answers within two or three (measured on Node 20).
const TURNS = 8

// The read's result when it came within `TURNS` microtask turns, else undefined (a failed read, too: see `readAhead`).
function soon<T>(read: Promise<T>): Promise<T | undefined> {
  let turns: Promise<undefined> = Promise.resolve(undefined)
  for (let i = 0; i < TURNS; i++) turns = turns.then(() => undefined)
  return Promise.race([read.catch(() => undefined), turns])
}

/**
 * A copy of the body `start` began reading, which calls `done` once: `true` when the body has been read to its
 * end, `false` when it failed or was cancelled. It reads ahead to two reads in all (those `readAhead` made
 * included), so a body made whole whose reads took longer than `readAhead` allows still ends its watch whether
 * or not anyone reads the response.
 */
export function watched(start: BodyStart, done: (finished: boolean) => void): ReadableStream<Uint8Array> {
  const { reader } = start
  let pending = start.pending
  // 'cancelling': `cancel` ends the watch once the body's own cleanup has run.
  let state: 'reading' | 'cancelling' | 'over' = 'reading'
  const finish = (finished: boolean): void => {
    if (state === 'over') return
    state = 'over'
    done(finished)
  }
  // Moves one chunk across; false once there is nothing more to move.
  const move = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> => {
    const read = pending ?? reader.read()
    pending = undefined
    try {
      const { value, done: ended } = await read
      if (state !== 'reading') return false
      if (ended) {
        controller.close()
        finish(true)
        return false
      }
      controller.enqueue(value)
      return true
    } catch (error) {
      if (state !== 'reading') return false
      controller.error(error)
      finish(false)
      return false
    }
  }
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const chunk of start.chunks) controller.enqueue(chunk)
      for (let reads = start.chunks.length; reads < READ_AHEAD; reads++) if (!(await move(controller))) return
    },
    async pull(controller) {
      await move(controller)
    },
    cancel(reason) {
      if (state === 'reading') state = 'cancelling'
      // The body's own cleanup (Hono's `onAbort`) runs first, while the scope it may use is still open.
      return reader.cancel(reason).finally(() => finish(false))
    },
  })
}
