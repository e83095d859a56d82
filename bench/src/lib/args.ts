// Command-line flags of benchmarks and tools: a bad value is refused by name, with its range.

/**
 * The integer after `flag` in `args`, `fallback` when the flag is absent.
 *
 * @throws {RangeError} naming the flag, the value and the range, when it is not an integer from 1 to `max`
 */
export function countArg(args: readonly string[], flag: string, fallback: number, max: number): number {
  const index = args.indexOf(flag)
  if (index < 0) return fallback
  const value = Number(args[index + 1])
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`Expected \`${flag}\` to be an integer from 1 to ${max}, got \`${args[index + 1]}\``)
  return value
}
