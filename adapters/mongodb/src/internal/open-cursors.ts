// The cursors and change streams a handle or a lease handed out and that are still open, closed when it ends.
import { ChangeStream, type AbstractCursor } from 'mongodb'
import { closeCursorQuietly } from './gated-proxy.js'

/**
 * Cursors and change streams handed out and not yet closed: a handler that reads one batch and returns leaves its
 * server cursor (and the driver's implicit session) open until the server times it out, after 10 minutes, and
 * a change stream whose client went away polls with `getMore` on a connection of its own for good.
 */
export class OpenCursors {
  readonly #open = new Set<AbstractCursor | ChangeStream>()

  /** Records one handed out (give it as the `opened` hook of `gated()`). */
  readonly opened = (cursor: AbstractCursor | ChangeStream): void => {
    if (cursor.closed || this.#open.has(cursor)) return
    if (cursor instanceof ChangeStream) {
      // A change stream passes on its cursor's 'close', also that of a cursor it replaces as it resumes: its
      // entry goes once it is closed, when the next one is handed out (or at the end).
      for (const earlier of this.#open) if (earlier instanceof ChangeStream && earlier.closed) this.#open.delete(earlier)
    } else cursor.once('close', () => this.#open.delete(cursor))
    this.#open.add(cursor)
  }

  /** How many are recorded (closed change streams not yet pruned included). */
  get size(): number {
    return this.#open.size
  }

  /**
   * Closes every one still open (ungated), and waits for the closes a refused step started (a cursor is marked
   * closed at once, and its `killCursors` follows: ending its session first would drop it). Never rejects.
   */
  closeAll(): Promise<void> {
    const open = [...this.#open]
    this.#open.clear()
    return Promise.all(open.map(closeCursorQuietly)).then(() => undefined)
  }
}
