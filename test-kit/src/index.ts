/**
 * `@lifeguard/test-kit`: test support shared by Lifeguard's packages (private, never published).
 *
 * @packageDocumentation
 */

export { startPrivateCluster, postgresBinDir, freePort } from './private-cluster.js'
export type { PrivateCluster, PrivateClusterOptions, PrivateClusterConnection } from './private-cluster.js'
export { startStandby } from './standby.js'
export { ManualClock, flushPromises } from './manual-clock.js'
