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
  // Constructed with `new` for each connection: an arrow or async function, or a method, passes `typeof` but
  // has no `prototype` (`new` refuses it), and every checkout would retry "Client is not a constructor" until
  // its acquire timeout. A plain function that returns a client is constructible, and works.
  Client: {
    type: 'custom',
    expected: 'a class like pg.Client (a function `new` can call: not an arrow or async function, nor a method)',
    check: (v) => typeof v === 'function' && typeof (v as { prototype?: unknown }).prototype === 'object',
    optional: true,
  },
} as const satisfies Record<string, OptionRule>

// `false` and `null` are pg's own "off", as 0 is. PostgreSQL's own limit for a millisecond setting is the
// same as Node's for a timer.
const millisecondsOrOff: OptionRule = {
  type: 'custom',
  expected: `false, or an integer number of milliseconds between 0 and ${MAX_TIMER_MILLIS}`,
  check: (v) => v === false || v === null || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIMER_MILLIS),
  numeric: true,
  optional: true,
}

/**
 * pg.Client settings that are timers, checked as the pool's own durations are. pg would pass
 * `query_timeout: '5s'` or `2 ** 32` to `setTimeout`, which fires after 1 ms, so every query would time out.
 * It sends `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout` through `parseInt`
 * when connecting: `'5s'` would become 5 ms, `-1` or `Infinity` a refusal of every connection, a Symbol an
 * uncaught exception.
 */
export const clientTimerRules = {
  query_timeout: millisecondsOrOff,
  statement_timeout: millisecondsOrOff,
  lock_timeout: millisecondsOrOff,
  idle_in_transaction_session_timeout: millisecondsOrOff,
  keepAliveInitialDelayMillis: { type: 'integer', min: 0, max: MAX_TIMER_MILLIS, optional: true },
  // Used as they are from the first query on: anything else was an uncaught exception that ended the process
  // (pg's `this.stream.end is not a function`, `this._types.getTypeParser is not a function`).
  stream: {
    type: 'custom',
    expected: 'a socket, or a function that returns one',
    check: (v) => typeof v === 'function' || (typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function'),
    optional: true,
  },
  types: {
    type: 'custom',
    expected: 'type parsers (an object with a `getTypeParser` function, such as `pg.types`)',
    check: (v) => typeof v === 'object' && v !== null && typeof (v as { getTypeParser?: unknown }).getTypeParser === 'function',
    optional: true,
  },
} as const satisfies Record<string, OptionRule>

/** The uses a connection serves before it is closed, from a checked `maxUses`: left out or 0 (pg's "no limit") is Infinity. */
export function maxUsesSetting(maxUses: number | undefined): number {
  return maxUses || Infinity
}
