import type { OptionRule } from '@lifeguard/core/adapter'

/**
 * pg.Pool's own settings that `createPostgresPool` takes under `pg` and `new Pool` at the top level, with
 * the same meaning. Checked when the pool is made: a wrong one would otherwise fail every checkout (a
 * `Client` that is no class) or be read as its default (`allowExitOnIdle: 'yes'`).
 */
export const poolHookRules = {
  maxUses: { type: 'custom', expected: 'an integer >= 1 or Infinity', check: (v) => v === Infinity || (Number.isInteger(v) && (v as number) >= 1), optional: true },
  allowExitOnIdle: { type: 'boolean', optional: true },
  onConnect: { type: 'function', optional: true },
  verify: { type: 'function', optional: true },
  Client: { type: 'function', optional: true },
} as const satisfies Record<string, OptionRule>
