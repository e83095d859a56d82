import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { findPostgresBinDir } from '../lib/postgres-bin-dir.mjs'
import { preflight } from '../lib/preflight.mjs'

// The one rule by which the preflight and the tests' private clusters (test-kit) pick the PostgreSQL server
// programs, on a folder tree laid out as Debian's /usr/lib/postgresql.
const BinDir = suite('findPostgresBinDir')
let root

/** `root/<version>/bin` holding `programs` (empty executable files). */
function install(version, programs) {
  const bin = join(root, version, 'bin')
  mkdirSync(bin, { recursive: true })
  for (const name of programs) {
    writeFileSync(join(bin, name), '#!/bin/sh\n')
    chmodSync(join(bin, name), 0o755)
  }
  return bin
}

BinDir.before.each(() => {
  root = mkdtempSync(join(tmpdir(), 'lifeguard-pg-bindir-'))
})

BinDir.after.each(() => {
  rmSync(root, { recursive: true, force: true })
})

BinDir('takes the numerically newest version, not the first by name', () => {
  install('9', ['initdb', 'pg_ctl'])
  const newest = install('15', ['initdb', 'pg_ctl'])
  install('12', ['initdb', 'pg_ctl'])
  assert.is(findPostgresBinDir({ env: {}, root }), newest)
})

BinDir('passes over a newer version that has only its client programs, and folders that are not versions', () => {
  const server = install('15', ['initdb', 'pg_ctl', 'postgres'])
  install('17', ['psql', 'pg_dump', 'pg_ctl'])
  install('16', ['initdb'])
  install('99beta', ['initdb', 'pg_ctl'])
  mkdirSync(join(root, '18'))
  assert.is(findPostgresBinDir({ env: {}, root }), server)
})

BinDir('nothing usable, or no such folder: undefined', () => {
  install('17', ['psql'])
  assert.is(findPostgresBinDir({ env: {}, root }), undefined)
  assert.is(findPostgresBinDir({ env: {}, root: join(root, 'missing') }), undefined)
})

BinDir('PG_BINDIR wins', () => {
  install('15', ['initdb', 'pg_ctl'])
  assert.is(findPostgresBinDir({ env: { PG_BINDIR: '/opt/pg/bin' }, root }), '/opt/pg/bin')
})

BinDir('the preflight names a PG_BINDIR without the server programs', async () => {
  const clientOnly = install('17', ['psql'])
  const previous = process.env.PG_BINDIR
  process.env.PG_BINDIR = clientOnly
  try {
    const lines = await preflight(['postgres-server-programs'], pg)
    assert.equal(lines, [`PG_BINDIR is ${clientOnly}, which holds no initdb and pg_ctl: fault tests start private clusters with them; point it at the folder that does (\`pg_config --bindir\` of a server installation).`])
    process.env.PG_BINDIR = install('15', ['initdb', 'pg_ctl'])
    assert.equal(await preflight(['postgres-server-programs'], pg), [])
  } finally {
    if (previous === undefined) delete process.env.PG_BINDIR
    else process.env.PG_BINDIR = previous
  }
})

BinDir.run()
