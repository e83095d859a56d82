import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { sqlOperationName } from '../src/internal/sql-operation-name.js'

const test = suite('sqlOperationName')

test('names a statement by its first keyword, upper-case, past white space, parentheses and comments', () => {
  assert.is(sqlOperationName('SELECT 1'), 'SELECT')
  assert.is(sqlOperationName('  select * from orders'), 'SELECT')
  assert.is(sqlOperationName('\n\tInSeRt INTO orders VALUES ($1)'), 'INSERT')
  assert.is(sqlOperationName('(SELECT 1) UNION (SELECT 2)'), 'SELECT')
  assert.is(sqlOperationName('-- the nightly report\nUPDATE orders SET state = $1'), 'UPDATE')
  assert.is(sqlOperationName('/* traceparent=00-abc */ DELETE FROM orders'), 'DELETE')
  assert.is(sqlOperationName('COMMIT;'), 'COMMIT')
  assert.is(sqlOperationName('BEGIN ISOLATION LEVEL SERIALIZABLE'), 'BEGIN')
  assert.is(sqlOperationName({ text: 'with x as (select 1) select * from x', values: [] }), 'WITH')
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
