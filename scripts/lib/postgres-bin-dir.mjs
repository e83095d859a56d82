// Where the PostgreSQL server programs are, by one rule for the whole repository: `npm test`'s preflight
// (scripts/lib/preflight.mjs) checks the folder that the tests' private clusters
// (test-kit/src/private-cluster.ts, which imports this file) will use. Plain JavaScript with its own type
// declarations, so that the preflight needs no build: it runs before anything is built.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** The programs a private cluster runs: without both, a folder is not a server installation. */
const serverPrograms = ['initdb', 'pg_ctl']

/** True when `dir` holds both `initdb` and `pg_ctl`. */
export function hasServerPrograms(dir) {
  return serverPrograms.every((name) => existsSync(join(dir, name)))
}

/**
 * `PG_BINDIR` when it is set; else the `bin` folder of the numerically newest version under `root`
 * (`/usr/lib/postgresql/N`, as Debian installs them) that holds both `initdb` and `pg_ctl`: a newer version
 * may be there with only its client programs (`postgresql-client-17` beside a `postgresql-16` server).
 * `undefined` when there is none.
 */
export function findPostgresBinDir({ env = process.env, root = '/usr/lib/postgresql' } = {}) {
  if (env.PG_BINDIR) return env.PG_BINDIR
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)) : []
  // Numerically: '9' sorts after '16' as text.
  versions.sort((a, b) => Number(b) - Number(a))
  return versions.map((version) => join(root, version, 'bin')).find(hasServerPrograms)
}
