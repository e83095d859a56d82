import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

let collectGarbage: (() => void) | undefined

/**
 * True when nothing but `reference` holds its target any more: a full collection (what `--expose-gc`
 * gives, without the flag on the command line) clears it. For tests that show what a pool, a queue or a
 * plugin still holds after it let go.
 *
 * @example
 * const reference = new WeakRef(pool)
 * await registry.close()
 * assert.ok(await collected(reference), 'the closed pool is still referenced')
 */
export async function collected(reference: WeakRef<object>): Promise<boolean> {
  if (collectGarbage === undefined) {
    setFlagsFromString('--expose-gc')
    collectGarbage = runInNewContext('gc') as () => void
  }
  // A WeakRef keeps its target until the job that made it ends.
  await turn()
  collectGarbage()
  return reference.deref() === undefined
}
