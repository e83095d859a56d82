// Bounded polls of the server's own view of a pool's statements (their end comes from the server, not from
// a timer of the test).
import * as assert from 'uvu/assert'
import { runningStatementCount } from '@lifeguard/test-kit'
import { sleep } from './pools.js'

/** Polls until the server runs a statement containing `fragment` for `appName` (about 5 s at most). */
export async function untilRunning(appName: string, fragment: string): Promise<void> {
  for (let i = 0; i < 500 && (await runningStatementCount(appName, fragment)) === 0; i++) await sleep(10)
  assert.ok((await runningStatementCount(appName, fragment)) > 0, `${fragment} runs on the server`)
}

/** Polls until no statement containing `fragment` runs for `appName` any more (about 5 s at most). */
export async function untilStopped(appName: string, fragment: string): Promise<void> {
  for (let i = 0; i < 500 && (await runningStatementCount(appName, fragment)) > 0; i++) await sleep(10)
  assert.is(await runningStatementCount(appName, fragment), 0, `${fragment} no longer runs on the server`)
}
