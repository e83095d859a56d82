import { MAX_TIMER_MILLIS, type OptionRule } from '@lifeguard/core/adapter'

/**
 * pg.Pool's own settings that `createPostgresPool` takes under `pg` and `new Pool` at the top level, with
 * the same meaning. Checked when the pool is made: a wrong one would otherwise fail every checkout (a
 * `Client` that is no class) or be read as its default (`allowExitOnIdle: 'yes'`).
 */
export const poolHookRules = {
  // 0 is pg-pool's "no limit" too (`maxUses || Infinity`): see `maxUsesSetting`.
  maxUses: { type: 'custom', expected: 'an integer >= 0 or Infinity (0: no limit)', check: (v) => v === Infinity || (Number.isInteger(v) && (v as number) >= 0), optional: true },
  allowExitOnIdle: { type: 'boolean', optional: true },
  onConnect: { type: 'function', optional: true },
  verify: { type: 'function', optional: true },
  Client: { type: 'function', optional: true },
} as const satisfies Record<string, OptionRule>

/**
 * pg.Client settings that pg turns into a timer, checked as the pool's own durations are: pg would pass
 * `query_timeout: '5s'` or `2 ** 32` to `setTimeout`, which fires after 1 ms, so every query would time out.
 */
export const clientTimerRules = {
  // `false` and `null` are pg's own "off", as 0 is.
  query_timeout: {
    type: 'custom',
    expected: `false, or an integer number of milliseconds between 0 and ${MAX_TIMER_MILLIS}`,
    check: (v) => v === false || v === null || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIMER_MILLIS),
    optional: true,
  },
} as const satisfies Record<string, OptionRule>

/** The uses a connection serves before it is closed, from a checked `maxUses`: left out or 0 (pg's "no limit") is Infinity. */
export function maxUsesSetting(maxUses: number | undefined): number {
  return maxUses || Infinity
}
