/**
 * `@lifeguard/test-kit`: test support shared by Lifeguard's packages (private, never published).
 *
 * @packageDocumentation
 */

export { startPrivateCluster, postgresBinDir, freePort } from './private-cluster.js'
export type { PrivateCluster, PrivateClusterOptions, PrivateClusterConnection } from './private-cluster.js'
export { startStandby } from './standby.js'
export { ManualClock, flushPromises } from './manual-clock.js'
export { stopChildProcess } from './child-process.js'
export { scratchName, scratchOwner, sweepScratchObjects } from './scratch-names.js'
export type { SqlQuery, SweepReport } from './scratch-names.js'
export { watchProcess } from './watched-process.js'
export type { WatchedProcess, WatchProcessOptions, ProcessExit } from './watched-process.js'
export { startWireServer, WireServer, CommandError, SHUTDOWN_IN_PROGRESS } from './mongo-wire/wire-server.js'
export type { WireServerOptions, LoggedCommand, WireConnection, WireFault, CommandContext, CommandHandler } from './mongo-wire/wire-server.js'
export { rejects, throwsError } from './rejects.js'
export { pgConfig, pgConnectionString, uniqueAppName, serverConnectionCount, runningStatementCount, waitForConnectionCount, terminateBackends, blackholeServer, closedPort } from './pg-server.js'
export type { PgConfig, BlackholeServer, TerminateBackendsOptions } from './pg-server.js'
export { captureWarnings } from './warnings.js'
export { collected } from './collected.js'
export { deferred } from './deferred.js'
export type { Deferred } from './deferred.js'
export type { CapturedWarning } from './warnings.js'
export { startPgBouncer, pgBouncerVersion, supportsMaxPreparedStatements } from './pgbouncer.js'
export type { PgBouncer, PgBouncerOptions } from './pgbouncer.js'
