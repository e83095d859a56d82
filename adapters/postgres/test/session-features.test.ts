import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { SessionFeature } from '../src/index.js'
import { sessionFeatureOf } from '../src/internal/session-features.js'

const test = suite('sessionFeatureOf: SQL that needs a session of its own')

const refused: [string, SessionFeature][] = [
  ['SET search_path = app', 'session-set'],
  ['set statement_timeout to 1000', 'session-set'],
  ['SET SESSION statement_timeout = 1', 'session-set'],
  ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', 'session-set'],
  ['SET ROLE admin', 'session-set'],
  ['SET TIME ZONE UTC', 'session-set'],
  ['RESET ALL', 'session-set'],
  ['reset search_path', 'session-set'],
  ['  -- a comment\n /* another */ SET x.y = 1', 'session-set'],
  ['BEGIN; SET x.y = 1; COMMIT', 'session-set'],
  ["SELECT set_config('app.user', '42', false)", 'session-set'],
  ["SELECT set_config('app.user', $1, 'off')", 'session-set'],
  // An is_local that is not written as true may be false.
  ['SELECT set_config($1, $2, $3)', 'session-set'],
  ["SELECT set_config('a.b', '1', 0::boolean)", 'session-set'],
  ["SELECT set_config('a.b', '1', NOT true)", 'session-set'],
  ['EXPLAIN ANALYZE CREATE TEMP TABLE ex AS SELECT 1', 'temp-table'],
  ['EXPLAIN (ANALYZE, BUFFERS) SELECT 1 AS x INTO TEMP t', 'temp-table'],
  ['EXPLAIN (BUFFERS, ANALYZE on) SELECT set_config($1, $2, false)', 'session-set'],
  ['EXPLAIN VERBOSE ANALYZE CREATE TEMP TABLE t AS SELECT 1', 'temp-table'],
  ['EXPLAIN EXECUTE q(1)', 'sql-prepare'],
  ['CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'temp-table'],
  ['CREATE OR REPLACE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'temp-table'],
  ['CREATE UNLOGGED TABLE pg_temp.t (x int)', 'temp-table'],
  ['LISTEN orders', 'listen'],
  ['UNLISTEN *', 'listen'],
  ['SELECT pg_advisory_lock(1)', 'advisory-lock'],
  ['select pg_catalog.pg_try_advisory_lock(1, 2)', 'advisory-lock'],
  ['SELECT pg_advisory_lock_shared($1)', 'advisory-lock'],
  ['SELECT PG_ADVISORY_UNLOCK(7)', 'advisory-lock'],
  ['SELECT pg_advisory_unlock_all()', 'advisory-lock'],
  ['SELECT id FROM jobs WHERE pg_try_advisory_lock(id) LIMIT 1', 'advisory-lock'],
  ['PREPARE q (int) AS SELECT $1', 'sql-prepare'],
  ['EXECUTE q(1)', 'sql-prepare'],
  ['DEALLOCATE ALL', 'sql-prepare'],
  ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', 'hold-cursor'],
  ['DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT 1', 'hold-cursor'],
  ['CREATE TEMP TABLE t (x int)', 'temp-table'],
  ['create temporary table t as select 1', 'temp-table'],
  ['CREATE GLOBAL TEMPORARY TABLE t (x int) ON COMMIT DELETE ROWS', 'temp-table'],
  ['CREATE TEMP VIEW v AS SELECT 1', 'temp-table'],
  ['CREATE OR REPLACE TEMP VIEW v AS SELECT 1', 'temp-table'],
  ['SELECT 1 AS x INTO TEMP t', 'temp-table'],
  ['SELECT * INTO TEMPORARY TABLE t FROM jobs', 'temp-table'],
  ['WITH a AS (SELECT 1) SELECT * INTO LOCAL TEMP t FROM a', 'temp-table'],
  ['CREATE TABLE pg_temp.leak (x int)', 'temp-table'],
  ['CREATE TABLE IF NOT EXISTS pg_temp_3.leak (x int)', 'temp-table'],
  ['SELECT 1 AS x INTO pg_temp.t', 'temp-table'],
  ['SELECT "pg_advisory_lock"(7)', 'advisory-lock'],
  ['SELECT pg_catalog."pg_try_advisory_lock"(7)', 'advisory-lock'],
]

const allowed = [
  // Statements that name a function without calling it.
  'REVOKE EXECUTE ON FUNCTION set_config(text, text, boolean) FROM PUBLIC',
  'GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint) TO app',
  "COMMENT ON FUNCTION pg_advisory_lock(bigint) IS 'held for a session'",
  'CREATE OR REPLACE FUNCTION try_lock(k bigint) RETURNS bool LANGUAGE sql RETURN pg_try_advisory_lock(k)',
  'CREATE VIEW locks AS SELECT pg_advisory_lock(1)',
  'DROP FUNCTION IF EXISTS wrap_set_config(text, text, boolean)',
  'SELECT 1',
  'SET LOCAL search_path = app',
  'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
  'SET CONSTRAINTS ALL DEFERRED',
  'UPDATE settings SET value = $1 WHERE key = $2',
  "INSERT INTO t (body) VALUES ('SET x = 1; LISTEN y')",
  "SELECT E'it\\'s SET x = 1; LISTEN y'",
  'SELECT "listen", "set" FROM t',
  'SELECT $$SET x = 1$$',
  'SELECT $tag$ LISTEN x; $$ $tag$',
  '-- SET x = 1\nSELECT 1',
  '/* LISTEN x */ SELECT 1',
  '/* nested /* SET x = 1 */ still comment */ SELECT 1',
  'SELECT pg_advisory_xact_lock(1)',
  'SELECT pg_try_advisory_xact_lock_shared(1)',
  "SELECT set_config('app.user', '42', true)",
  "SELECT set_config('app.user', $1, 'on')",
  // A table named temp is no temporary table.
  'CREATE INDEX ON temp (a)',
  'CREATE INDEX IF NOT EXISTS temp ON w (v)',
  'WITH x AS (SELECT 1 AS a) INSERT INTO temp SELECT a FROM x',
  'EXPLAIN SELECT * FROM temp',
  // Without ANALYZE, EXPLAIN runs nothing.
  'EXPLAIN CREATE TEMP TABLE t AS SELECT 1',
  'EXPLAIN (ANALYZE false) CREATE TEMP TABLE t AS SELECT 1',
  'EXPLAIN (VERBOSE) SELECT set_config($1, $2, false)',
  "SELECT current_setting('statement_timeout')",
  "PREPARE TRANSACTION 'tx-1'",
  'DECLARE c CURSOR FOR SELECT 1',
  'DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1',
  'CREATE TEMP TABLE t (x int) ON COMMIT DROP',
  'CREATE TABLE temp_orders (x int)',
  'CREATE TABLE pg_temp_orders.x (y int)',
  'CREATE TEMP TABLE pg_temp.t (x int) ON COMMIT DROP',
  'SELECT "PG_ADVISORY_LOCK"(7)',
  'INSERT INTO temp (x) VALUES (1)',
  'SELECT * FROM offsets OFFSET 5',
  "ALTER ROLE app SET search_path = 'app'",
  "NOTIFY orders, 'x'",
  "SELECT pg_notify('orders', 'x')",
  'SELECT advisory_note FROM t',
  '',
  ';;',
]

test('refuses each session feature, wherever it hides in the statement', () => {
  for (const [sql, feature] of refused) assert.is(sessionFeatureOf(sql), feature, sql)
})

test('lets transaction-scoped statements, literals, identifiers and comments through', () => {
  for (const sql of allowed) assert.is(sessionFeatureOf(sql), undefined, sql)
})

test('an unterminated literal or comment does not throw', () => {
  for (const sql of ["SELECT 'SET x", 'SELECT $$ LISTEN', '/* SET', 'SELECT "set', "SELECT E'\\"]) assert.is(sessionFeatureOf(sql), undefined, sql)
})

test("nested calls are read once: set_config's third argument is found in a text of thousands of calls", () => {
  assert.is(sessionFeatureOf("SELECT set_config('a', set_config('b', '1', true), false)"), 'session-set')
  assert.is(sessionFeatureOf("SELECT set_config('a', set_config('b', '1', false), true)"), 'session-set', 'the inner call')
  assert.is(sessionFeatureOf("SELECT set_config('a', 'b', true)"), undefined)
  assert.is(sessionFeatureOf("SELECT set_config('a', 'b')"), undefined, 'two arguments')
  // Each call's arguments were read to the end of the text again: 5 s for 250 kB of this; now milliseconds.
  const started = performance.now()
  assert.is(sessionFeatureOf(`SET LOCAL x = 1; SELECT ${'set_config(1,2,'.repeat(20_000)}true${')'.repeat(20_000)}`), 'session-set', 'an is_local that is a call may be false')
  assert.ok(performance.now() - started < 5_000, `took ${Math.round(performance.now() - started)} ms`)
})

test.run()
