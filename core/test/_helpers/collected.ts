import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

// A full collection on demand (what `--expose-gc` gives), to show what a queue still holds.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** True when nothing but `reference` holds its target any more: collected by a full collection. */
export async function collected(reference: WeakRef<object>): Promise<boolean> {
  // A WeakRef keeps its target until the job that made it ends.
  await turn()
  collectGarbage()
  return reference.deref() === undefined
}
