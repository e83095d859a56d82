// What the test suites need from the machine, checked before anything is built: a missing service fails
// the run at once with one line that names it and how to start it, instead of a hang or a TypeError deep
// inside a suite. Which suites need what is read from their test files, so a new test that starts using
// Redis or PgBouncer is covered without a list to keep up to date.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { delimiter, join } from 'node:path'
import { findPostgresBinDir, hasServerPrograms } from './postgres-bin-dir.mjs'

/** Markers in a package's test files, and the requirement each one means. */
const markers = [
  { pattern: /\bioredis\b|\bbullmq\b|REDIS_URL/, need: 'redis' },
  { pattern: /pgbouncer/i, need: 'pgbouncer' },
  { pattern: /\bpromtool\b/, need: 'promtool' },
  { pattern: /startPrivateCluster/, need: 'postgres-server-programs' },
]

function filesUnder(dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((file) => /\.(ts|mts|js|mjs)$/.test(file) && statSync(file).isFile())
}

/** The requirements of the given workspace folders (PostgreSQL always: nearly every suite uses it). */
export function requirementsOf(root, dirs) {
  const needs = new Set(['postgres'])
  for (const dir of dirs) {
    for (const file of filesUnder(join(root, dir, 'test'))) {
      // The markers' own tests name every marker without needing any of them.
      if (/preflight\.test\.[cm]?[jt]s$/.test(file)) continue
      const text = readFileSync(file, 'utf8')
      for (const { pattern, need } of markers) if (pattern.test(text)) needs.add(need)
    }
  }
  return needs
}

/** Where the tests' PostgreSQL is: the PG* variables, then the defaults every suite uses. */
export const pgSettings = () => ({
  host: process.env.PGHOST || '127.0.0.1',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || 'postgres',
  password: process.env.PGPASSWORD,
  database: process.env.PGDATABASE || 'test',
})

async function withClient(pg, settings, fn) {
  const client = new pg.Client({ ...settings, connectionTimeoutMillis: 3_000, application_name: 'lifeguard-preflight' })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Reachable, the database there (created when missing), or one line saying what to do. */
async function checkPostgres(pg) {
  const settings = pgSettings()
  const where = `${settings.host}:${settings.port}`
  try {
    await withClient(pg, settings, (client) => client.query('SELECT 1'))
    return undefined
  } catch (error) {
    if (error.code === '3D000') {
      try {
        await withClient(pg, { ...settings, database: 'postgres' }, (client) => client.query(`CREATE DATABASE "${settings.database.replace(/"/g, '""')}"`))
        console.log(`[preflight] created the database '${settings.database}' on ${where}`)
        return undefined
      } catch (createError) {
        return `PostgreSQL at ${where} has no database '${settings.database}' and it could not be created (${createError.message}): run \`createdb -h ${settings.host} -p ${settings.port} -U ${settings.user} ${settings.database}\`.`
      }
    }
    if (error.code === '28P01' || error.code === '28000') {
      return `PostgreSQL at ${where} refused user '${settings.user}' (${error.code}): the tests expect trust authentication on loopback, or set PGUSER and PGPASSWORD.`
    }
    const reason = error.code ?? error.message
    return `PostgreSQL is not reachable at ${where} (${reason}): start it (\`pg_ctlcluster <version> main start\`, or \`docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16\`) or point PGHOST/PGPORT at one.`
  }
}

/** Redis answers PING at REDIS_URL, spoken by hand: one round trip needs no client library. */
function checkRedis() {
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379')
  const host = url.hostname || '127.0.0.1'
  const port = Number(url.port || 6379)
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    let reply = ''
    const fail = (reason) => {
      socket.destroy()
      resolve(`Redis is not reachable at ${host}:${port} (${reason}): the job-worker tests need it; start it (\`redis-server --daemonize yes\`, or \`docker run -d -p 6379:6379 redis:7\`) or set REDIS_URL.`)
    }
    socket.setTimeout(3_000, () => fail('no answer within 3s'))
    socket.once('error', (error) => fail(error.code ?? error.message))
    socket.once('connect', () => socket.write(url.password ? `AUTH ${decodeURIComponent(url.password)}\r\nPING\r\n` : 'PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk
      if (/\+PONG\r\n/.test(reply)) {
        socket.end()
        resolve(undefined)
      } else if (reply.startsWith('-')) fail(reply.split('\r\n')[0])
    })
  })
}

function onPath(name, extraDirs = []) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]
  return dirs.some((dir) => dir && existsSync(join(dir, name)))
}

function checkPgbouncer() {
  if (process.env.PGBOUNCER ? existsSync(process.env.PGBOUNCER) : onPath('pgbouncer', ['/usr/sbin', '/usr/local/sbin'])) return undefined
  return 'pgbouncer is not installed: the PostgreSQL adapter tests run through it; install it (`apt-get install pgbouncer`) or set PGBOUNCER to its path.'
}

function checkPromtool() {
  if (onPath('promtool')) return undefined
  return 'promtool is not installed: the OpenTelemetry plugin tests check the exposition and the alert rules with it; install it (`apt-get install prometheus`).'
}

// The folder the private clusters will use (test-kit's postgresBinDir() reads it with the same function).
function checkServerPrograms() {
  const dir = findPostgresBinDir()
  if (dir !== undefined && hasServerPrograms(dir)) return undefined
  if (process.env.PG_BINDIR) return `PG_BINDIR is ${process.env.PG_BINDIR}, which holds no initdb and pg_ctl: fault tests start private clusters with them; point it at the folder that does (\`pg_config --bindir\` of a server installation).`
  return 'The PostgreSQL server programs (initdb, pg_ctl) are not installed: fault tests start private clusters with them; install them (`apt-get install postgresql`) or set PG_BINDIR.'
}

/**
 * Checks every requirement in `needs`; resolves with one line per missing one (empty when all is there).
 * `pg` is the `pg` module, passed in so this file loads before dependencies are known to be installed.
 */
export async function preflight(needs, pg) {
  const checks = {
    postgres: () => checkPostgres(pg),
    redis: checkRedis,
    pgbouncer: checkPgbouncer,
    promtool: checkPromtool,
    'postgres-server-programs': checkServerPrograms,
  }
  const results = await Promise.all([...needs].map((need) => checks[need]()))
  return results.filter((line) => line !== undefined)
}
