/** The environment variable `bench/run.mjs --quick` sets for a short smoke run. */
export const QUICK_ENV = 'LIFEGUARD_BENCH_QUICK'

/**
 * Whether this is a `--quick` smoke run: numbers only prove the benchmark runs, they mean nothing.
 *
 * @example
 * const durationMillis = isQuick() ? 200 : 10_000
 */
export function isQuick(): boolean {
  return process.env[QUICK_ENV] === '1'
}

/**
 * Picks the full-run value or the `--quick` value.
 *
 * @example
 * const rounds = byMode({ full: 10, quick: 5 })
 */
export function byMode<T>(values: { full: T; quick: T }): T {
  return isQuick() ? values.quick : values.full
}
