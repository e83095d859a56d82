/**
 * `@lifeguard/test-kit`: test support shared by Lifeguard's packages (private, never published).
 *
 * @packageDocumentation
 */

export { startPrivateCluster, postgresBinDir, freePort } from './private-cluster.js'
export type { PrivateCluster, PrivateClusterOptions, PrivateClusterConnection } from './private-cluster.js'
export { ManualClock, flushPromises } from './manual-clock.js'
export { scratchName, scratchOwner, sweepScratchObjects } from './scratch-names.js'
export type { SqlQuery, SweepReport } from './scratch-names.js'
export { watchProcess } from './watched-process.js'
export type { WatchedProcess, WatchProcessOptions, ProcessExit } from './watched-process.js'
