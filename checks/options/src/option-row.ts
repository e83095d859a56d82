/** Something a row's call created and the check must close afterwards (a pool, an autoscaler). */
export interface Closeable {
  close?(): unknown
  stop?(): unknown
}

/** Keeps what a call created, so a bad option that was accepted leaves nothing open. */
export interface Tracker {
  /** Registers `resource` for closing after the row; returns it. */
  track<T extends Closeable>(resource: T): T
}

/** One bad option given to one entry point of one package. */
export interface OptionRow {
  /** The package, e.g. `@lifeguard/mongodb`. */
  readonly package: string
  /** The entry point called, e.g. `createMongoPool` or `pool.resize`. */
  readonly entry: string
  /** The bad input, as a reader would write it: `acquireTimeoutMillis: 2 ** 32`. */
  readonly bad: string
  /** The `option` the `InvalidOptionError` must name. */
  readonly option: string
  /** Words the message must contain besides (for durations: the timer limit). */
  readonly message?: string
  /**
   * Set while the package does not refuse this input yet: the row still runs and its outcome is printed,
   * but does not fail the check. Remove it once the row passes.
   */
  readonly pending?: string
  /** Makes the call; may throw, or return a promise that rejects. */
  readonly call: (tracker: Tracker) => unknown
}

/** How a row went. */
export type RowOutcome = { readonly passed: true } | { readonly passed: false; readonly reason: string }

/** The message words every duration row expects: the longest delay a Node.js timer honours. */
export const TIMER_LIMIT = '2147483647'

/** A duration no Node.js timer can wait for: it would fire after ~1 ms. */
export const TOO_LONG = 2 ** 32

/**
 * Runs one row: passes when the call throws (or rejects with) an `InvalidOptionError` (code
 * `ERR_INVALID_OPTION`) naming `row.option`, whose message contains `row.message`. Closes whatever the call
 * created, whatever happened.
 */
export async function runRow(row: OptionRow): Promise<RowOutcome> {
  const created: Closeable[] = []
  const tracker: Tracker = {
    track(resource) {
      created.push(resource)
      return resource
    },
  }
  try {
    let result: unknown
    try {
      result = await row.call(tracker)
    } catch (error) {
      return judge(row, error)
    }
    if (isCloseable(result)) created.push(result)
    return { passed: false, reason: 'accepted' }
  } finally {
    await Promise.allSettled(created.map((resource) => (resource.close !== undefined ? resource.close() : resource.stop?.())))
  }
}

function judge(row: OptionRow, error: unknown): RowOutcome {
  const { name, code, option, message } = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>
  if (code !== 'ERR_INVALID_OPTION') return { passed: false, reason: `threw ${String(name ?? typeof error)}: ${String(message ?? error)}` }
  if (option !== row.option) return { passed: false, reason: `named \`${String(option)}\`, not \`${row.option}\`: ${String(message)}` }
  if (row.message !== undefined && !String(message).includes(row.message)) return { passed: false, reason: `message lacks "${row.message}": ${String(message)}` }
  return { passed: true }
}

function isCloseable(value: unknown): value is Closeable {
  return typeof value === 'object' && value !== null && (typeof (value as Closeable).close === 'function' || typeof (value as Closeable).stop === 'function')
}
