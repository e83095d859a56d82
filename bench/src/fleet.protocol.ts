// The messages between fleet.bench.ts and its instances (fleet.instance.ts), over Node's IPC channel.

/** How one instance sizes its pool in a run. */
export interface SetupSpec {
  /** The pool's `maxSize` (the starting size under a budget). */
  maxSize: number
  /** Present when the fleet goes through PgBouncer (transaction mode): where it listens. */
  pgbouncer?: { host: string; port: number }
  /** Present for the shared budget: the adaptive policy's bounds and the budget's settings. */
  budget?: {
    total: number
    /** Passed to the budget as `maxInstances`. */
    instances: number
    minSize: number
    maxSize: number
    /** The budget's `refreshMillis`; its default when left out. */
    refreshMillis?: number
  }
}

/** Everything an instance needs for one run. */
export interface RunSpec {
  setup: SetupSpec
  connection: { host: string; port: number; user: string; database: string }
  /** Shared by the whole fleet: the budget counts it. */
  applicationName: string
  query: string
  hotConcurrency: number
  /** Queries per second while calm (open loop). */
  calmRate: number
  acquireTimeoutMillis: number
  /** Print every resize and budget reading on stderr. */
  trace: boolean
}

/** Parent to instance. */
export type ToInstance =
  | { type: 'start'; spec: RunSpec; index: number }
  | { type: 'load'; mode: 'hot' | 'calm'; measuring: boolean }
  | { type: 'stop' }
  | { type: 'exit' }

/** Instance to parent. */
export type FromInstance =
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'result'; result: InstanceResult }
  | { type: 'failed'; error: string }

/** One tick (100 ms) of an instance's pool. */
export interface InstancePoint {
  /** Wall-clock milliseconds (`performance.timeOrigin + performance.now()`). */
  at: number
  maxSize: number
  /** Connections open or opening, as the pool counts them. */
  open: number
  waiting: number
  inFlight: number
  /** Queries completed so far in the run. */
  completed: number
  hot: boolean
}

/** What an instance reports at the end of a run. */
export interface InstanceResult {
  /** Queries completed while measuring. */
  operations: number
  /** Queries that failed while measuring. */
  failed: number
  /** Connection attempts the server refused with 53300 (too many connections), whole run. */
  refused: number
  /** Other failed connection attempts, whole run. */
  connectErrors: number
  resizes: number
  /** The instance process's CPU time over the run, ms. */
  cpuMillis: number
  /** Latency histograms (microseconds), HdrHistogram compressed base64. */
  hot: string
  calm: string
  series: InstancePoint[]
  firstError?: string
}
