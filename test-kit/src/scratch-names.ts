// Names for what tests create on the shared PostgreSQL server (schemas, tables, databases). Each name
// carries the id of the process that made it, so a run that was killed before its `after` hooks ran
// leaves objects that the next run recognises and drops, while objects of runs still going are kept.
import { randomBytes } from 'node:crypto'
import { isAlive } from './process-alive.js'

const PREFIX = 'lgtest_'
const OWNER = /^lgtest_[a-z0-9_]*?_p(\d+)_[0-9a-f]+$/

/**
 * A lower-case SQL identifier unique to this process and call: `lgtest_<label>_p<pid>_<hex>`, at most
 * 63 characters. Use it for every schema, table or database a test creates on the shared server.
 *
 * @example
 * const schema = scratchName('job_worker') // lgtest_job_worker_p4242_1a2b3c
 */
export function scratchName(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30)
  return `${PREFIX}${clean}_p${process.pid}_${randomBytes(3).toString('hex')}`
}

/** The id of the process that made a `scratchName()`, or `undefined` for any other name. */
export function scratchOwner(name: string): number | undefined {
  const match = OWNER.exec(name)
  return match === null ? undefined : Number(match[1])
}

/** Runs one SQL statement and returns its rows (a `pg` client's `query`, reduced to what is needed). */
export type SqlQuery = (text: string) => Promise<{ rows: Array<Record<string, unknown>> }>

/** What `sweepScratchObjects()` dropped. */
export interface SweepReport {
  schemas: string[]
  tables: string[]
  databases: string[]
}

/**
 * Drops the schemas, `public` tables and databases named by `scratchName()` whose process is gone
 * (SIGKILL, a crash, a runner that was interrupted). Objects of processes still running are kept.
 */
export async function sweepScratchObjects(query: SqlQuery): Promise<SweepReport> {
  const stale = async (sql: string): Promise<string[]> => {
    const { rows } = await query(sql)
    return rows.map((row) => String(row['name'])).filter((name) => {
      const owner = scratchOwner(name)
      return owner !== undefined && !isAlive(owner)
    })
  }
  const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`
  const report: SweepReport = {
    schemas: await stale(`SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'lgtest\\_%'`),
    tables: await stale(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'lgtest\\_%'`),
    databases: await stale(`SELECT datname AS name FROM pg_database WHERE datname LIKE 'lgtest\\_%'`),
  }
  for (const schema of report.schemas) await query(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`)
  for (const table of report.tables) await query(`DROP TABLE IF EXISTS public.${quote(table)} CASCADE`)
  for (const database of report.databases) await query(`DROP DATABASE IF EXISTS ${quote(database)} WITH (FORCE)`)
  return report
}
