// The subset of autocannon's API the harness uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }

  interface Options {
    url: string
    connections?: number
    /** seconds, fractions allowed */
    duration?: number
    pipelining?: number
    /** seconds */
    timeout?: number
    method?: string
    headers?: Record<string, string>
    body?: string
  }

  interface Result {
    /** seconds */
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    latency: Histogram
    requests: Histogram & { sent: number }
  }

  interface Instance {
    stop(): void
    /** Every response, with its latency in (fractional) milliseconds. */
    on(
      event: 'response',
      listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMillis: number) => void,
    ): Instance
  }

  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance

  export default autocannon
  export type { Options, Result, Histogram }
}
