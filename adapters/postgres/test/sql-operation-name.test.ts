import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { sqlOperationName } from '../src/internal/sql-operation-name.js'

const test = suite('sqlOperationName')

test('names a statement by its keyword, upper-case (one series per operation), past white space, parentheses and comments', () => {
  assert.is(sqlOperationName('SELECT 1'), 'SELECT')
  assert.is(sqlOperationName('  select * from orders'), 'SELECT')
  assert.is(sqlOperationName('\n\tInSeRt INTO orders VALUES ($1)'), 'INSERT')
  assert.is(sqlOperationName('(SELECT 1) UNION (SELECT 2)'), 'SELECT')
  assert.is(sqlOperationName('-- the nightly report\nUPDATE orders SET state = $1'), 'UPDATE')
  assert.is(sqlOperationName('/* traceparent=00-abc */ DELETE FROM orders'), 'DELETE')
  assert.is(sqlOperationName('COMMIT;'), 'COMMIT')
  assert.is(sqlOperationName('BEGIN ISOLATION LEVEL SERIALIZABLE'), 'BEGIN')
  assert.is(sqlOperationName({ text: 'select * from orders', values: [] }), 'SELECT')
})

test('one statement with a trailing `;`, comments or empty statements keeps its name', () => {
  assert.is(sqlOperationName('SELECT 1;'), 'SELECT')
  assert.is(sqlOperationName('SELECT 1 ;; \n'), 'SELECT')
  assert.is(sqlOperationName('UPDATE orders SET state = $1; -- done\n/* and */ ;'), 'UPDATE')
})

test('a text of several statements has no name (the conventions: not from a text with several operations)', () => {
  assert.is(sqlOperationName('select 1; create temp table t(a int); insert into t values (1); delete from t'), undefined)
  assert.is(sqlOperationName('SELECT 1;DELETE FROM orders'), undefined)
  assert.is(sqlOperationName('SELECT 1; /* c */ SELECT 2;'), undefined)
  assert.is(sqlOperationName('SELECT a$b; SELECT 1'), undefined, 'a $ inside an identifier starts no dollar quote')
  assert.is(sqlOperationName('SELECT $1; SELECT 2'), undefined, 'nor does a parameter')
  assert.is(sqlOperationName("SELECT E'it\\'s'; DELETE FROM orders"), undefined, 'an escape string ends at its real quote')
})

test('a `;` inside a string, a quoted identifier, a dollar quote or a comment ends nothing', () => {
  assert.is(sqlOperationName("INSERT INTO notes VALUES ('a; DROP TABLE x')"), 'INSERT')
  assert.is(sqlOperationName("SELECT 'it''s; fine'"), 'SELECT')
  assert.is(sqlOperationName("SELECT E'it\\'s; fine', E'\\\\'"), 'SELECT')
  assert.is(sqlOperationName('SELECT "odd;name" FROM t'), 'SELECT')
  assert.is(sqlOperationName('SELECT "a"";b" FROM t'), 'SELECT')
  assert.is(sqlOperationName('DO $$ BEGIN PERFORM 1; END $$'), 'DO')
  assert.is(sqlOperationName('CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $x$ $fn$ LANGUAGE sql'), 'CREATE')
  assert.is(sqlOperationName('SELECT 1 -- ; DELETE\n'), 'SELECT')
  assert.is(sqlOperationName('SELECT 1 /* a /* nested ; */ still ; */'), 'SELECT')
  assert.is(sqlOperationName('/* a /* b */ c */ DELETE FROM orders'), 'DELETE', 'nested comments before the keyword')
})

test('a WITH query is named after the statement it introduces, when every auxiliary statement is a query', () => {
  assert.is(sqlOperationName('WITH one AS (SELECT 1) SELECT * FROM one'), 'SELECT')
  assert.is(sqlOperationName('with x as (select 1) update orders set n = (select * from x)'), 'UPDATE')
  assert.is(sqlOperationName('WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT sum(n) FROM t;'), 'SELECT')
  assert.is(sqlOperationName('WITH "a b" AS MATERIALIZED (SELECT \')\'), c AS NOT MATERIALIZED ((SELECT 1) UNION (TABLE t)) DELETE FROM orders'), 'DELETE')
  assert.is(sqlOperationName('WITH x AS (SELECT 1) (SELECT * FROM x)'), 'SELECT')
  assert.is(sqlOperationName('WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x'), 'INSERT')
})

test('a data-modifying WITH is several operations: no name; nor for a WITH the scanner cannot follow', () => {
  assert.is(sqlOperationName('WITH d AS (DELETE FROM t RETURNING a) SELECT count(*) FROM d'), undefined)
  assert.is(sqlOperationName('WITH x AS (SELECT 1), d AS (UPDATE t SET a = 1 RETURNING a) SELECT 1'), undefined)
  assert.is(sqlOperationName('WITH x AS (WITH y AS (SELECT 1) SELECT * FROM y) SELECT * FROM x'), undefined, 'a nested WITH')
  assert.is(sqlOperationName('WITH x AS (SELECT 1) SELECT 1; SELECT 2'), undefined)
  assert.is(sqlOperationName('WITH x AS (SELECT 1) EXPLAIN SELECT 1'), undefined)
  assert.is(sqlOperationName('WITH'), undefined)
  assert.is(sqlOperationName('WITH x AS (SELECT 1'), undefined)
})

test('EXPLAIN has no name: it wraps a statement that runs (ANALYZE) or does not', () => {
  assert.is(sqlOperationName('EXPLAIN ANALYZE DELETE FROM orders'), undefined)
  assert.is(sqlOperationName('explain select 1'), undefined)
})

test('reads a bounded part of the text: a `;` or a WITH clause far into it gives no name, a long statement keeps its own', () => {
  const long = `INSERT INTO t VALUES ${Array.from({ length: 5000 }, (_, i) => `(${i})`).join(', ')}`
  assert.ok(long.length > 20_000)
  assert.is(sqlOperationName(long), 'INSERT', 'no `;` at all: one statement whatever its length')
  assert.is(sqlOperationName(`${long};\n`), 'INSERT', 'its only `;` ends it')
  assert.is(sqlOperationName(`${long}; SELECT 1`), undefined, 'a `;` past the scanned part is not read')
  assert.is(sqlOperationName(`${long}, (';')`), undefined, 'a `;` in a string past the scanned part: no name rather than a guess')
  assert.is(sqlOperationName(`WITH x AS (SELECT ${'1 + '.repeat(5000)}1) SELECT * FROM x`), undefined)
})

test('nested block comments are read once: a text of many nested openings costs no more than its length', () => {
  assert.is(sqlOperationName('/* a /* b */ c */ UPDATE t SET x = 1'), 'UPDATE')
  assert.is(sqlOperationName('/* a /* b */ SELECT 1'), undefined, 'still inside the outer comment')
  // Searching anew for the close after each opening took 5 s for 125 kB of this, 20 s for 250 kB; now about 20 ms.
  const started = performance.now()
  assert.is(sqlOperationName(`${'/* '.repeat(250_000)}${'*/ '.repeat(250_000)} SELECT 1`), 'SELECT')
  assert.ok(performance.now() - started < 5_000, `took ${Math.round(performance.now() - started)} ms`)
})

test('returns one of a fixed set of words: never another part of the text', () => {
  assert.is(sqlOperationName('SELEKT 1'), undefined, 'a typo')
  assert.is(sqlOperationName('4242-4242 SELECT'), undefined)
  assert.is(sqlOperationName('secret_table_name'), undefined)
  assert.is(sqlOperationName(''), undefined)
  assert.is(sqlOperationName('   '), undefined)
  assert.is(sqlOperationName('/* never closed'), undefined)
  assert.is(sqlOperationName({ name: 'prepared' } as never), undefined)
  assert.is(sqlOperationName(null as never), undefined)
  const keyword = sqlOperationName('select 1')
  assert.is(keyword, sqlOperationName('SELECT 2'), 'the same string each time')
})

test.run()
