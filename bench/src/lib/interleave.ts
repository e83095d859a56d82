// Runs benchmark cases in interleaved rounds (A B C, B C A, C A B, ...), so that drift in the
// machine (thermal throttling, a noisy neighbour, a GC-heavy phase) lands on every case alike
// instead of on whichever case happened to run last.

/** One case: `run` takes one sample (ops/s, a duration, anything numeric) and returns it. */
export interface BenchCase {
  readonly name: string
  run(): number | Promise<number>
}

/** Options for {@link interleave}. */
export interface InterleaveOptions {
  /** Measured rounds, at least 5; default 10. */
  rounds?: number
  /** Rounds run first and discarded (JIT, caches, pools); default 1. */
  warmupRounds?: number
  /** Called after each measured round, e.g. to print progress. */
  onRound?(round: number, rounds: number): void
}

/** The samples one case produced, one per measured round, in round order. */
export interface CaseSamples {
  readonly name: string
  readonly samples: number[]
}

const MIN_ROUNDS = 5

declare const gc: (() => void) | undefined

/**
 * Runs every case once per round, rotating the starting case each round, and collects one sample
 * per case per measured round. When the process runs with `--expose-gc` (as `bench/run.mjs` starts
 * it), a full GC runs before each sample so one case's garbage is not collected on another's time.
 *
 * @throws {RangeError} when there are no cases, names repeat, or `rounds` is below 5
 * @example
 * const [a, b] = await interleave([
 *   { name: 'lifeguard', run: () => opsPerSecond(withLifeguard, 200) },
 *   { name: 'raw pg', run: () => opsPerSecond(rawPg, 200) },
 * ])
 */
export async function interleave(
  cases: readonly BenchCase[],
  options: InterleaveOptions = {},
): Promise<CaseSamples[]> {
  const { rounds = 10, warmupRounds = 1 } = options
  if (cases.length === 0) throw new RangeError('Expected at least one case, got none')
  const names = new Set(cases.map((c) => c.name))
  if (names.size !== cases.length) throw new RangeError('Expected case names to be unique')
  if (!Number.isInteger(rounds) || rounds < MIN_ROUNDS) {
    throw new RangeError(`Expected \`rounds\` to be an integer >= ${MIN_ROUNDS}, got \`${rounds}\``)
  }
  if (!Number.isInteger(warmupRounds) || warmupRounds < 0) {
    throw new RangeError(`Expected \`warmupRounds\` to be an integer >= 0, got \`${warmupRounds}\``)
  }

  const results = cases.map((c) => ({ name: c.name, samples: [] as number[] }))
  for (let round = 0; round < warmupRounds + rounds; round += 1) {
    const measured = round >= warmupRounds
    for (let step = 0; step < cases.length; step += 1) {
      const index = (round + step) % cases.length
      if (typeof gc === 'function') gc()
      const sample = await (cases[index] as BenchCase).run()
      if (!Number.isFinite(sample)) {
        throw new RangeError(`Case '${cases[index]?.name}' returned a non-finite sample: ${sample}`)
      }
      if (measured) results[index]?.samples.push(sample)
    }
    if (measured) options.onRound?.(round - warmupRounds + 1, rounds)
  }
  return results
}

/**
 * The samples of the case with this name.
 *
 * @throws {RangeError} when no case has that name
 * @example
 * const lifeguard = samplesOf(results, 'lifeguard')
 */
export function samplesOf(results: readonly CaseSamples[], name: string): number[] {
  const found = results.find((result) => result.name === name)
  if (!found) throw new RangeError(`No case named '${name}'; cases: ${results.map((r) => r.name).join(', ')}`)
  return found.samples
}
