/**
 * A seeded pseudo-random source (mulberry32): the same seed gives the same sequence, so a noisy model is
 * noisy the same way on every run.
 */
export function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Noise with dips, per model step: the database's time within 10% either way, and at 3% of the steps
 * twice as long for that step and the three after it (a hiccup of the machine that nobody reports).
 */
export function withDips(random: () => number): () => number {
  let dipSteps = 0
  return () => {
    if (dipSteps > 0) {
      dipSteps--
      return 2
    }
    if (random() < 0.03) {
      dipSteps = 3
      return 2
    }
    return 0.9 + 0.2 * random()
  }
}
