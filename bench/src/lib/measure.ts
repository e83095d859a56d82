// One throughput sample of a synchronous or asynchronous function, for micro benchmarks.

const TARGET_BATCH_NANOS = 1_000_000n
const MAX_BATCH = 1 << 20

/**
 * Calls `fn` repeatedly for about `durationMillis` and returns calls per second. Calls are
 * batched between clock reads so the clock costs little; a returned promise is awaited before the
 * next call.
 *
 * @throws {RangeError} when `durationMillis` is not > 0
 * @example
 * const sample = await opsPerSecond(() => JSON.stringify(order), 100)
 */
export async function opsPerSecond(fn: () => unknown, durationMillis: number): Promise<number> {
  if (!(durationMillis > 0)) {
    throw new RangeError(`Expected \`durationMillis\` to be > 0, got \`${durationMillis}\``)
  }
  let calls = 0
  let batch = 1
  const start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(durationMillis * 1e6))
  let now = start
  while (now < end) {
    const batchStart = now
    for (let i = 0; i < batch; i += 1) {
      const result = fn()
      if (result instanceof Promise) await result
    }
    calls += batch
    now = process.hrtime.bigint()
    // Grow batches until one takes about 1ms: rare clock reads, small overshoot past `end`.
    if (batch < MAX_BATCH && now - batchStart < TARGET_BATCH_NANOS) batch *= 2
  }
  return calls / (Number(now - start) / 1e9)
}
